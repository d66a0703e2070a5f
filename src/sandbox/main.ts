import { stringify } from 'yaml';
import type { SourceConfig } from '../config/schema';
import { startSandbox } from './index';

/**
 * `npm run sandbox`: the vendor emulators alone, without a gateway, for calling them directly or for pointing a
 * separately run gateway at them. Prints each emulator's URL, the base URL and credentials a client uses, an
 * example request, and a `sources:` block to paste into a gateway config; serves until SIGINT or SIGTERM.
 *
 * Environment: `SANDBOX_PORTS=random` puts the emulators on free ports (default: the fixed ports 4101–4104 of
 * the embedded default), `SANDBOX_SCALE` (demo dataset size multiplier, default 1), `SANDBOX_SEED` (default 1),
 * `SANDBOX_WEBHOOK_BASE` (a gateway's base URL: Protocol and Chatwoot then post their webhooks to
 * `<base>/webhooks/<source id>`; default: none are sent).
 */

function numberEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} expects a non-negative number, got "${raw}"`);
  return v;
}

/** How a client authenticates to each emulator, as a curl example of one read (the vendors' own schemes). */
function exampleRequest(cfg: SourceConfig): string {
  switch (cfg.kind) {
    case 'PIXIESET':
      return `curl -s '${cfg.baseUrl}/conversations/' -H 'Cookie: ${cfg.credentials.sessionCookie}'   # writes also send X-CSRF-Token: ${cfg.credentials.csrfToken}`;
    case 'PROTOCOL':
      return `curl -s '${cfg.baseUrl}/conversations' -H 'Authorization: Bearer ${cfg.credentials.token}'`;
    case 'CHATWOOT':
      return `curl -s '${cfg.baseUrl}/api/v1/accounts/${cfg.accountId}/conversations' -H 'api_access_token: ${cfg.credentials.apiAccessToken}'`;
    case 'MONICA':
      return `curl -s '${cfg.baseUrl}/conversations' -H 'Authorization: Bearer ${cfg.credentials.token}' -H 'Accept: application/json'`;
  }
}

async function main() {
  const sandbox = await startSandbox({
    fixedPorts: process.env.SANDBOX_PORTS !== 'random',
    scale: numberEnv('SANDBOX_SCALE', 1),
    seed: numberEnv('SANDBOX_SEED', 1),
  });
  const webhookBase = process.env.SANDBOX_WEBHOOK_BASE || null;
  sandbox.setWebhookBase(webhookBase);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping the emulators\n`);
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    sandbox.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  const lines: string[] = ['Switchboard sandbox: the vendor emulators alone (Ctrl-C stops them)', ''];
  for (const cfg of sandbox.sourceConfigs) {
    const handle = sandbox.emulators.get(cfg.id);
    if (!handle) continue;
    lines.push(`emulator ${cfg.id} ${handle.url}`);
    lines.push(`  ${cfg.name ?? cfg.kind} (${cfg.kind})`);
    lines.push(`  base URL     ${cfg.baseUrl}`);
    lines.push(`  credentials  ${JSON.stringify(cfg.credentials)}`);
    if (cfg.kind === 'CHATWOOT') lines.push(`  account      ${cfg.accountId}, default inbox ${cfg.defaultInboxId}`);
    if ((cfg.kind === 'PROTOCOL' || cfg.kind === 'CHATWOOT') && cfg.webhookSecret)
      lines.push(
        `  webhooks     secret ${cfg.webhookSecret}${webhookBase ? ` → ${webhookBase}/webhooks/${cfg.id}` : ' (not sent: SANDBOX_WEBHOOK_BASE is unset)'}`,
      );
    if (cfg.kind === 'CHATWOOT' && cfg.webhookToken) lines.push(`  webhook URL token  ${cfg.webhookToken}`);
    lines.push(`  try          ${exampleRequest(cfg)}`);
    lines.push(
      `  control API  ${handle.url}/__sandbox/ (requests, reset, simulate/incoming, simulate/read, unread, faults)`,
    );
    lines.push('');
  }
  lines.push('A gateway config for these emulators (add apiKeys):', '');
  lines.push(stringify({ sources: sandbox.sourceConfigs }).trimEnd(), '');
  lines.push('sandbox ready');
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`sandbox: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
