/**
 * `webhooks create|list|get|update|delete|rotate-secret|retire-secrets|test`: Nylas webhook
 * destinations (NYLAS_API_URI, NYLAS_API_KEY), with new secrets written to the ingress's secrets file
 * (NYLAS_WEBHOOK_SECRETS_FILE) so it accepts them without a restart.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { parseDuration } from '../../lib/config';
import { table } from '../ops/context';
import { refusalsToExitCode } from '../ops/errors';
import { destinationForUrl } from '../ops/secrets-file';
import {
  createWebhook,
  defaultHoldMs,
  deleteWebhook,
  type InstalledSecret,
  loadWebhooksConfig,
  retireSecrets,
  rotateWebhookSecret,
  WebhooksApi,
} from '../ops/webhooks';

const list = (value: string): string[] =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function durationMs(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new InvalidArgumentError('expected a duration such as 30s, 5m or 1h');
  return ms;
}

function context() {
  const config = loadWebhooksConfig(process.env);
  return { config, api: new WebhooksApi(config) };
}

function reportSecret(installed: InstalledSecret, secret: string, what: string): void {
  if (installed.file === undefined) {
    // The only moment Nylas shows the secret: print it once, to stderr, so it does not end up in piped output.
    console.warn(
      `NYLAS_WEBHOOK_SECRETS_FILE is not set, so the ${what} was not stored. Give it to the ingress now ` +
        `(NYLAS_WEBHOOK_SECRETS="${installed.destination}=<secret>"); Nylas will not show it again:\n${secret}`,
    );
    return;
  }
  console.log(
    `${what} written to ${installed.file} for destination "${installed.destination}" ` +
      `(${installed.secrets} secret(s) accepted there; the ingress re-reads the file without a restart)`,
  );
}

export function registerWebhooksCommands(program: Command): void {
  const webhooks = program
    .command('webhooks')
    .description(
      'Nylas webhook destinations (NYLAS_API_URI, NYLAS_API_KEY), secrets kept in NYLAS_WEBHOOK_SECRETS_FILE',
    );

  webhooks
    .command('create')
    .description('create a destination; Nylas checks it with a challenge the running ingress answers')
    .requiredOption('--url <url>', 'public URL of the ingress, e.g. https://hooks.example.com/webhooks/nylas')
    .requiredOption(
      '--triggers <list>',
      'comma-separated trigger types, e.g. message.created,message.updated',
      list,
    )
    .option('--description <text>', 'description shown in the Nylas Dashboard')
    .option('--notify <emails>', 'emails Nylas tells when the destination fails', list)
    .option(
      '--destination <name>',
      'secrets-file destination (default: from the URL, /webhooks/nylas/<name>, else "default")',
    )
    .option('--json', 'print the destination as JSON')
    .action(
      refusalsToExitCode(
        async (o: {
          url: string;
          triggers: string[];
          description?: string;
          notify?: string[];
          destination?: string;
          json?: boolean;
        }) => {
          const { config, api } = context();
          const { webhook, installed } = await createWebhook(api, config, o);
          console.log(
            o.json
              ? JSON.stringify({ id: webhook.id, webhook_url: webhook.webhookUrl, status: webhook.status })
              : `created ${webhook.id} → ${webhook.webhookUrl} (${webhook.status}; ${webhook.triggerTypes.length} trigger(s))`,
          );
          reportSecret(installed, webhook.webhookSecret, 'webhook secret');
        },
      ),
    );

  webhooks
    .command('list')
    .description('list the destinations of the application')
    .option('--json', 'print JSON')
    .action(
      refusalsToExitCode(async (o: { json?: boolean }) => {
        const { api } = context();
        const all = await api.list();
        if (o.json) {
          console.log(JSON.stringify(all, null, 2));
          return;
        }
        const rows = [['id', 'status', 'destination', 'triggers', 'url', 'description']];
        for (const w of all) {
          rows.push([
            w.id,
            w.status,
            destinationForUrl(w.webhook_url),
            String(w.trigger_types.length),
            w.webhook_url,
            w.description,
          ]);
        }
        for (const line of table(rows)) console.log(line);
        console.log(`${all.length} destination(s)`);
      }),
    );

  webhooks
    .command('get')
    .description('show one destination (Nylas never returns its secret here)')
    .argument('<id>', 'webhook destination id')
    .action(
      refusalsToExitCode(async (id: string) => {
        const { api } = context();
        console.log(JSON.stringify(await api.get(id), null, 2));
      }),
    );

  webhooks
    .command('update')
    .description('change a destination; --status active re-runs the challenge (and revives a failed one)')
    .argument('<id>', 'webhook destination id')
    .option('--url <url>', 'new webhook URL (Nylas runs the challenge against it)')
    .option('--triggers <list>', 'replace the trigger types', list)
    .option('--description <text>', 'new description')
    .option('--notify <emails>', 'replace the notification emails', list)
    .option('--status <status>', 'active or pause', (v: string) => {
      if (v !== 'active' && v !== 'pause') throw new InvalidArgumentError('expected active or pause');
      return v;
    })
    .action(
      refusalsToExitCode(
        async (
          id: string,
          o: {
            url?: string;
            triggers?: string[];
            description?: string;
            notify?: string[];
            status?: 'active' | 'pause';
          },
        ) => {
          const { api } = context();
          const before = o.url !== undefined ? await api.get(id) : undefined;
          const after = await api.update(id, o);
          console.log(JSON.stringify(after, null, 2));
          if (before && destinationForUrl(before.webhook_url) !== destinationForUrl(after.webhook_url)) {
            console.warn(
              `warning: the URL now delivers to destination "${destinationForUrl(after.webhook_url)}" instead of ` +
                `"${destinationForUrl(before.webhook_url)}": its secret must be configured there (rotate-secret ${id} does it)`,
            );
          }
        },
      ),
    );

  webhooks
    .command('delete')
    .description('delete a destination (Nylas stops sending at once)')
    .argument('<id>', 'webhook destination id')
    .option('--forget-secrets', "also remove the destination's secrets from the secrets file")
    .option('--destination <name>', 'secrets-file destination (default: from the URL)')
    .action(
      refusalsToExitCode(async (id: string, o: { forgetSecrets?: boolean; destination?: string }) => {
        const { config, api } = context();
        const r = await deleteWebhook(api, config, id, o.forgetSecrets === true, o.destination);
        console.log(
          `deleted ${id}${o.forgetSecrets ? `; ${r.forgotten} secret(s) of destination "${r.destination}" removed from the secrets file` : ''}`,
        );
      }),
    );

  webhooks
    .command('rotate-secret')
    .description(
      'new secret at Nylas, installed in the secrets file without a single 401: first the destination is held ' +
        '(its secrets removed, so the ingress answers 503, which Nylas retries), then rotated, and the old secret ' +
        'accepted beside the new one as long again before it is retired',
    )
    .argument('<id>', 'webhook destination id')
    .option('--destination <name>', 'secrets-file destination (default: from the URL)')
    .option(
      '--hold-for <duration>',
      'how long to hold before rotating (default: twice NYLAS_WEBHOOK_SECRETS_RELOAD_MS + 1 s); raise it when the file reaches the ingress slowly (e.g. a mounted Kubernetes secret)',
      durationMs,
    )
    .option(
      '--no-hold',
      'rotate at once and install the new secret beside the old one (deliveries until the ingress re-reads the file get 401, which Nylas does not retry)',
    )
    .option(
      '--retire-old-after <duration>',
      'with --no-hold: wait this long, then keep only the new secret',
      durationMs,
    )
    .action(
      refusalsToExitCode(
        async (
          id: string,
          o: { destination?: string; hold: boolean; holdFor?: number; retireOldAfter?: number },
        ) => {
          const { config, api } = context();
          const abort = new AbortController();
          const onSignal = () => abort.abort();
          process.once('SIGINT', onSignal);
          try {
            const holdMs = o.hold ? (o.holdFor ?? defaultHoldMs(config)) : 0;
            // Said once Nylas has rotated: during a hold, before the overlap's wait; else after it.
            const sayRotated = () =>
              console.log(`rotated the secret of ${id}; Nylas signs with the new one from now on`);
            const { webhook, installed, held, retired } = await rotateWebhookSecret(api, config, id, {
              holdMs,
              signal: abort.signal,
              ...(o.destination !== undefined ? { destination: o.destination } : {}),
              onHold: (destination, ms) =>
                console.log(
                  `holding destination "${destination}" for ${ms} ms: the ingress answers 503 (Nylas retries) until the new secret is in`,
                ),
              onOverlap: (destination, ms) => {
                sayRotated();
                console.log(
                  `new secret written to ${config.secretsFile} for destination "${destination}", beside the old one for ${ms} ms ` +
                    '(a delivery Nylas signed just before the rotation may still arrive)',
                );
              },
            });
            if (held) {
              console.log(
                retired === undefined
                  ? `interrupted: the old secret is still accepted; retire it with nylas-stream webhooks retire-secrets --destination ${installed.destination}`
                  : `retired ${retired} old secret(s) of destination "${installed.destination}" (${installed.secrets} secret(s) accepted there)`,
              );
              return;
            }
            sayRotated();
            reportSecret(installed, webhook.webhookSecret, 'new secret');
            if (o.retireOldAfter === undefined) {
              console.log(
                `retire the old secret once the ingress reloaded: nylas-stream webhooks retire-secrets --destination ${installed.destination}`,
              );
              return;
            }
            await new Promise((resolve) => setTimeout(resolve, o.retireOldAfter));
            const removed = await retireSecrets(config, installed.destination);
            console.log(`retired ${removed} old secret(s) of destination "${installed.destination}"`);
          } finally {
            process.off('SIGINT', onSignal);
          }
        },
      ),
    );

  webhooks
    .command('retire-secrets')
    .description('keep only the newest secret of a destination in the secrets file (after a rotation)')
    .requiredOption('--destination <name>', 'secrets-file destination, e.g. default')
    .action(
      refusalsToExitCode(async (o: { destination: string }) => {
        const { config } = context();
        const removed = await retireSecrets(config, o.destination);
        console.log(`retired ${removed} old secret(s) of destination "${o.destination}"`);
      }),
    );

  webhooks
    .command('test')
    .description(
      'ask Nylas to send a test notification (signed with "mock-webhook-secret": the ingress accepts it only with ' +
        'INGRESS_ACCEPT_MOCK_SECRET=true), or with --mock-payload just print an example notification',
    )
    .argument('[id]', 'destination to send to (its URL); or give --url')
    .option('--url <url>', 'URL to send the test notification to')
    .option('--trigger <type>', 'trigger type of the test notification', 'message.created')
    .option('--mock-payload', 'print an example notification for --trigger instead of sending one')
    .action(
      refusalsToExitCode(
        async (id: string | undefined, o: { url?: string; trigger: string; mockPayload?: boolean }) => {
          const { api } = context();
          if (o.mockPayload) {
            console.log(JSON.stringify(await api.mockPayload(o.trigger), null, 2));
            return;
          }
          const target = o.url ?? (id !== undefined ? (await api.get(id)).webhook_url : undefined);
          if (target === undefined) throw new InvalidArgumentError('give a destination id or --url');
          await api.sendTestEvent(o.trigger, target);
          console.log(`Nylas delivered a test ${o.trigger} notification to ${target} and it was accepted`);
        },
      ),
    );
}
