import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { configSchema, type Config } from './schema';

/** A config problem; `message` names the field and what was expected. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Replaces `${NAME}` in every string with the environment variable; a missing one names the field. */
function substitute(value: unknown, env: NodeJS.ProcessEnv, path: string): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Z0-9_]+)\}/g, (_m, name: string) => {
      const v = env[name];
      if (v === undefined) throw new ConfigError(`${path}: references environment variable ${name}, which is not set.`);
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substitute(v, env, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, substitute(v, env, path ? `${path}.${k}` : k)]),
    );
  }
  return value;
}

/** Validates a parsed config object; throws a ConfigError listing every problem. */
export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env): Config {
  const substituted = substitute(raw, env, '');
  const r = configSchema.safeParse(substituted);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `- ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
    throw new ConfigError(`Invalid config:\n${lines.join('\n')}`);
  }
  const cfg = r.data;
  const ids = new Set<string>();
  for (const [i, s] of cfg.sources.entries()) {
    if (ids.has(s.id)) throw new ConfigError(`Invalid config:\n- sources.${i}.id: "${s.id}" is used by another source`);
    ids.add(s.id);
  }
  // A key's name labels logs and metrics; two keys with one name (or one key listed twice) would be told apart
  // nowhere an operator looks, so the config must name each key once.
  const names = new Map<string, number>();
  const hashes = new Map<string, number>();
  for (const [i, k] of cfg.apiKeys.entries()) {
    const sameName = names.get(k.name);
    if (sameName !== undefined) {
      throw new ConfigError(
        `Invalid config:\n- apiKeys.${i}.name: "${k.name}" is the name of apiKeys.${sameName} too (DUPLICATE_API_KEY_NAME); give each key its own name`,
      );
    }
    const sameKey = hashes.get(k.sha256);
    if (sameKey !== undefined) {
      throw new ConfigError(
        `Invalid config:\n- apiKeys.${i}.sha256: the same key as apiKeys.${sameKey} (DUPLICATE_API_KEY); list each key once`,
      );
    }
    names.set(k.name, i);
    hashes.set(k.sha256, i);
  }
  for (const [i, k] of cfg.apiKeys.entries()) {
    for (const [j, sid] of k.sources.entries()) {
      if (sid !== '*' && !ids.has(sid)) {
        throw new ConfigError(
          `Invalid config:\n- apiKeys.${i}.sources.${j}: "${sid}" is not the id of a configured source`,
        );
      }
    }
  }
  return deepFreeze(cfg);
}

/** Reads a YAML or JSON file (JSON is YAML) and validates it. */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`Cannot read config file ${file}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`Config file ${file} is not valid YAML or JSON: ${(e as Error).message}`);
  }
  return parseConfig(raw, env);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
