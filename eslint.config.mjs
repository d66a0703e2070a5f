// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Lint rules: JavaScript and typescript-eslint recommended, plus the few this codebase leans on. */
export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'public/**', 'coverage/**', 'src/schema/__generated__/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: 'readonly', process: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-undef': 'off', // TypeScript checks names
    },
  },
  {
    files: ['test/**', 'bench/**'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
