// CSS is bundled by esbuild (scripts/build-graphiql.mjs); TypeScript 6 rejects unknown side-effect imports (TS2882).
declare module '*.css';
