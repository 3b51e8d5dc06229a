/**
 * deploy/helm/nylas-stream, offline (no cluster is available to these tests): `helm lint --strict`,
 * `helm template` with the default and the production values, every rendered object strictly decoded
 * into the Kubernetes API's Go types (and prometheus-operator's) by deploy/helm/validate, and what
 * matters for this service: a state volume per processor at PROCESSOR_STATE_DIR, no service links,
 * non-root pods, the webhook secrets file the ingress re-reads, the provisioning hook, and the
 * PrometheusRule being deploy/prometheus/rules itself. helm and the validator are built from the Go
 * module proxy on first use (deploy/helm/tools.ts) and cached.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMap, isPair, isScalar, isSeq, parse, parseAllDocuments, parseDocument, stringify } from 'yaml';
import { ensureHelmTools, findGo, type HelmTools } from '../../../deploy/helm/tools';
import { loadIngressConfig } from '../../../ingress/config';
import { loadCommonConfig } from '../../../lib/config';
import { SERVICE_NODE_FLAGS, serviceNodeFlags } from '../../../lib/service-runtime';
import { loadProcessorConfig } from '../../../processors/config';
import { variablesReadBy } from '../../helpers/config-env';
import { REPO_ROOT } from '../../helpers/promql';

const CHART = join(REPO_ROOT, 'deploy', 'helm', 'nylas-stream');
const PRODUCTION = join(CHART, 'values-production.yaml');
const RULES = join(REPO_ROOT, 'deploy', 'prometheus', 'rules');
const RELEASE = 'nylas';
const NAMESPACE = 'nylas-stream';
/** A cold build of helm takes minutes on a 2-core machine (deploy/helm/nylas-stream/README.md). */
const BUILD_TIMEOUT_MS = 60 * 60_000;

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}
interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: { secretRef?: { name: string } }[];
  ports?: { name: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  volumeMounts?: { name: string; mountPath: string; subPath?: string; readOnly?: boolean }[];
  securityContext?: Record<string, unknown>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface PodSpec {
  enableServiceLinks?: boolean;
  automountServiceAccountToken?: boolean;
  securityContext?: Record<string, unknown>;
  initContainers?: Container[];
  containers: Container[];
  volumes?: { name: string; secret?: { secretName: string }; emptyDir?: unknown }[];
  restartPolicy?: string;
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown> & {
    selector?: { matchLabels?: Record<string, string> } | Record<string, string>;
    template?: { metadata?: { labels?: Record<string, string> }; spec: PodSpec };
    volumeClaimTemplates?: { metadata: { name: string }; spec: Record<string, unknown> }[];
    replicas?: number;
  };
  stringData?: Record<string, string>;
}
interface Rendered {
  text: string;
  objects: K8sObject[];
}
interface Validation {
  status: number | null;
  stderr: string;
  results: { source: string; kind: string; name: string; errors: string[] }[];
}

let tools: HelmTools;
let helmHome: string;

beforeAll(() => {
  tools = ensureHelmTools();
  helmHome = mkdtempSync(join(tmpdir(), 'helm-home-'));
}, BUILD_TIMEOUT_MS);

afterAll(() => {
  if (helmHome) rmSync(helmHome, { recursive: true, force: true });
});

/** helm with its own empty config, cache and data: nothing from the user's repositories or plugins. */
function helm(args: string[]): string {
  const res = spawnSync(tools.helm, args, {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    env: {
      ...process.env,
      HELM_CACHE_HOME: join(helmHome, 'cache'),
      HELM_CONFIG_HOME: join(helmHome, 'config'),
      HELM_DATA_HOME: join(helmHome, 'data'),
    },
  });
  if (res.status !== 0) {
    throw new Error(`helm ${args.join(' ')} failed (${res.status}):\n${res.stdout}${res.stderr}`);
  }
  return res.stdout;
}

function helmFails(args: string[]): string {
  try {
    helm(args);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`helm ${args.join(' ')} succeeded`);
}

function template(valueFiles: string[] = [], set: string[] = []): Rendered {
  const args = ['template', RELEASE, CHART, '--namespace', NAMESPACE];
  for (const f of valueFiles) args.push('-f', f);
  for (const s of set) args.push('--set', s);
  const text = helm(args);
  return { text, objects: parseManifests(text) };
}

function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

function validate(text: string): Validation {
  const res = spawnSync(tools.validate, [], { input: text, encoding: 'utf8', maxBuffer: 64 << 20 });
  const results = res.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Validation['results'][number]);
  return { status: res.status, stderr: res.stderr, results };
}

function find(r: Rendered, kind: string, suffix = ''): K8sObject {
  const name = `${RELEASE}-nylas-stream${suffix}`;
  const o = r.objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name} rendered`);
  return o;
}

function podSpecs(r: Rendered): { owner: string; spec: PodSpec }[] {
  return r.objects
    .filter((o) => o.spec?.template?.spec)
    .map((o) => ({ owner: `${o.kind}/${o.metadata.name}`, spec: o.spec!.template!.spec }));
}

function containersOf(spec: PodSpec): Container[] {
  return [...(spec.initContainers ?? []), ...spec.containers];
}

function envOf(c: Container): Record<string, string> {
  return Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? '']));
}

function ruleGroupsOnDisk(): unknown[] {
  return readdirSync(RULES)
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .flatMap((f) => (parse(readFileSync(join(RULES, f), 'utf8')) as { groups: unknown[] }).groups);
}

const renders = new Map<string, Rendered>();
/** The chart rendered with the default or the production values, once per run. */
function rendered(name: 'default' | 'production'): Rendered {
  let r = renders.get(name);
  if (!r) {
    r = template(name === 'production' ? [PRODUCTION] : []);
    renders.set(name, r);
  }
  return r;
}

describe('Helm chart deploy/helm/nylas-stream', () => {
  it('passes helm lint --strict with the default and the production values', () => {
    expect(helm(['lint', '--strict', CHART])).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(helm(['lint', '--strict', CHART, '-f', PRODUCTION])).toMatch(
      /1 chart\(s\) linted, 0 chart\(s\) failed/,
    );
  });

  it.each(['default', 'production'] as const)(
    'renders with the %s values into objects that decode strictly into the Kubernetes API types',
    (name) => {
      const r = rendered(name);
      const v = validate(r.text);
      expect(v.stderr).toBe('');
      expect(v.results.filter((x) => x.errors.length > 0)).toEqual([]);
      expect(v.status).toBe(0);
      // Nothing went unchecked: one result per rendered object.
      expect(v.results.map((x) => `${x.kind}/${x.name}`)).toEqual(
        r.objects.map((o) => `${o.kind}/${o.metadata.name}`),
      );
      const kinds = r.objects.map((o) => o.kind).sort();
      const always = [
        'Deployment',
        'HorizontalPodAutoscaler',
        'Job',
        'PodDisruptionBudget',
        'PodDisruptionBudget',
        'Secret',
        'Service',
        'Service',
        'StatefulSet',
      ];
      const monitoring = ['PrometheusRule', 'ServiceMonitor', 'ServiceMonitor'];
      // Production takes its secrets from existing Secrets; the default creates the secrets file.
      const expected =
        name === 'production' ? [...always.filter((k) => k !== 'Secret'), ...monitoring] : always;
      expect(kinds).toEqual(expected.sort());
    },
  );

  it('the validator refuses an unknown field, a wrong type, an unknown kind and a broken selector', () => {
    const r = rendered('production');
    const cases: { name: string; mutate: (o: K8sObject[]) => void; error: RegExp }[] = [
      {
        name: 'unknown field',
        mutate: (o) => {
          (
            o.find((x) => x.kind === 'StatefulSet')!.spec!.template!.spec as unknown as Record<
              string,
              unknown
            >
          ).enableServiceLink = false;
        },
        error: /strict decoding error: unknown field "spec.template.spec.enableServiceLink"/,
      },
      {
        name: 'wrong type',
        mutate: (o) => {
          o.find((x) => x.kind === 'Deployment')!.spec!.template!.spec.containers[0]!
            .ports![0]!.containerPort = '3000' as unknown as number;
        },
        error: /cannot unmarshal string .* of type int32/,
      },
      {
        name: 'bad quantity',
        mutate: (o) => {
          o.find((x) => x.kind === 'StatefulSet')!.spec!.template!.spec.containers[0]!.resources!
            .limits!.memory = '1.5 GB';
        },
        error: /quantities must match the regular expression/,
      },
      {
        name: 'unknown field in a PrometheusRule',
        mutate: (o) => {
          const rule = o.find((x) => x.kind === 'PrometheusRule')!;
          (rule.spec!.groups as Record<string, unknown>[])[0]!.rulez = [];
        },
        error: /unknown field "spec.groups\[0\].rulez"/,
      },
      {
        name: 'removed API version',
        mutate: (o) => {
          o.find((x) => x.kind === 'HorizontalPodAutoscaler')!.apiVersion = 'autoscaling/v2beta2';
        },
        error: /no kind "HorizontalPodAutoscaler" is registered for version "autoscaling\/v2beta2"/,
      },
      {
        name: 'selector that misses the pods',
        mutate: (o) => {
          const sts = o.find((x) => x.kind === 'StatefulSet')!;
          (sts.spec!.selector as { matchLabels: Record<string, string> }).matchLabels[
            'app.kubernetes.io/component'
          ] = 'other';
        },
        error: /does not match the pod template's labels/,
      },
      {
        name: 'mount of a volume that does not exist',
        mutate: (o) => {
          o.find((x) => x.kind === 'StatefulSet')!.spec!.volumeClaimTemplates![0]!.metadata.name = 'data';
        },
        error: /volumeMounts\[0\]\.name: Not found: "state"/,
      },
    ];
    for (const c of cases) {
      const objects = structuredClone(r.objects);
      c.mutate(objects);
      const v = validate(objects.map((o) => stringify(o)).join('---\n'));
      expect({ case: c.name, status: v.status }).toEqual({ case: c.name, status: 1 });
      expect({ case: c.name, errors: v.results.flatMap((x) => x.errors).join('\n') }).toEqual({
        case: c.name,
        errors: expect.stringMatching(c.error),
      });
    }
  });

  it.each(['default', 'production'] as const)(
    'processors (%s values): a StatefulSet with a state volume per replica at PROCESSOR_STATE_DIR',
    (name) => {
      const sts = find(rendered(name), 'StatefulSet', '-processor');
      const claims = sts.spec!.volumeClaimTemplates ?? [];
      expect(claims.map((c) => c.metadata.name)).toEqual(['state']);
      expect(claims[0]!.spec.accessModes).toEqual(['ReadWriteOnce']);
      const pod = sts.spec!.template!.spec;
      // The state is the claim's, never a pod volume (an emptyDir would lose it, a shared one refuse).
      expect((pod.volumes ?? []).map((v) => v.name)).not.toContain('state');
      const processor = pod.containers.find((c) => c.name === 'processor')!;
      expect(processor.args).toEqual(['processor']);
      const stateDir = envOf(processor).PROCESSOR_STATE_DIR;
      expect(stateDir).toBe('/var/lib/nylas-stream/state'); // the image's directory
      expect(processor.volumeMounts).toContainEqual({ name: 'state', mountPath: stateDir });
      expect(sts.spec!.serviceName).toBe(find(rendered(name), 'Service', '-processor').metadata.name);
      const replicas = sts.spec!.replicas!;
      expect(replicas).toBeLessThanOrEqual(Number(envOf(processor).TOPIC_PARTITIONS));
      if (name === 'production') {
        expect(replicas).toBe(4);
        expect((claims[0]!.spec.resources as { requests: { storage: string } }).requests.storage).toBe(
          '64Gi',
        );
      }
    },
  );

  it('refuses more processors than raw partitions, and a configuration value that is not a string', () => {
    expect(helmFails(['template', RELEASE, CHART, '--set', 'processor.replicas=13'])).toMatch(
      /processor\.replicas \(13\) is above config\.TOPIC_PARTITIONS \(12\)/,
    );
    expect(
      helmFails(['template', RELEASE, CHART, '--set', 'config.TOPIC_MAX_MESSAGE_BYTES=16777216']),
    ).toMatch(/TOPIC_MAX_MESSAGE_BYTES must be a string/);
  });

  it.each(['default', 'production'] as const)(
    'every pod (%s values): no service links, no API token, the non-root node user',
    (name) => {
      const pods = podSpecs(rendered(name));
      expect(pods.map((p) => p.owner).sort()).toEqual(
        [
          `Deployment/${RELEASE}-nylas-stream-ingress`,
          `Job/${RELEASE}-nylas-stream-provision`,
          `StatefulSet/${RELEASE}-nylas-stream-processor`,
        ].sort(),
      );
      for (const { owner, spec } of pods) {
        expect({ owner, enableServiceLinks: spec.enableServiceLinks }).toEqual({
          owner,
          enableServiceLinks: false,
        });
        expect({ owner, token: spec.automountServiceAccountToken }).toEqual({ owner, token: false });
        expect({ owner, ...spec.securityContext }).toMatchObject({
          owner,
          runAsNonRoot: true,
          runAsUser: 1000, // the image's `node` user
          runAsGroup: 1000,
          fsGroup: 1000,
        });
        for (const c of containersOf(spec)) {
          expect({ owner, container: c.name, ...c.securityContext }).toMatchObject({
            owner,
            container: c.name,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
          });
          expect(c.resources?.requests?.cpu).toBeDefined();
          expect(c.resources?.limits?.memory).toBeDefined();
        }
      }
    },
  );

  it('sets on each container only variables its service reads, with values its config accepts', () => {
    const loaders: Record<string, (env: Record<string, string | undefined>) => unknown> = {
      ingress: loadIngressConfig,
      processor: loadProcessorConfig,
      topics: loadCommonConfig,
      schemas: loadCommonConfig,
    };
    for (const name of ['default', 'production'] as const) {
      for (const { spec } of podSpecs(rendered(name))) {
        for (const c of containersOf(spec)) {
          const load = loaders[c.name];
          expect({ container: c.name, known: load !== undefined }).toEqual({
            container: c.name,
            known: true,
          });
          const env = envOf(c);
          // Read with the container's own values: some variables are read only when others are set.
          const known = variablesReadBy(load!, { ...env, NYLAS_API_KEY: 'key' });
          for (const variable of Object.keys(env)) {
            expect({ values: name, container: c.name, variable, read: known.has(variable) }).toEqual({
              values: name,
              container: c.name,
              variable,
              read: true,
            });
          }
          // The secret variables come from envFrom; the loaders need NYLAS_API_KEY for the processor.
          expect(() => load!({ ...env, NYLAS_API_KEY: 'key' })).not.toThrow();
        }
      }
    }
  });

  it('mounts the webhook secrets Secret as the directory of NYLAS_WEBHOOK_SECRETS_FILE (no subPath)', () => {
    for (const name of ['default', 'production'] as const) {
      const r = rendered(name);
      const pod = find(r, 'Deployment', '-ingress').spec!.template!.spec;
      const ingress = pod.containers.find((c) => c.name === 'ingress')!;
      const file = envOf(ingress).NYLAS_WEBHOOK_SECRETS_FILE!;
      const dir = file.slice(0, file.lastIndexOf('/'));
      const key = file.slice(file.lastIndexOf('/') + 1);
      const mount = ingress.volumeMounts!.find((m) => m.mountPath === dir)!;
      // subPath mounts never see the kubelet's updates: the re-read would never find a new secret.
      expect(mount).toEqual({ name: mount.name, mountPath: dir, readOnly: true });
      const volume = pod.volumes!.find((v) => v.name === mount.name)!;
      if (name === 'production') {
        expect(volume.secret!.secretName).toBe('nylas-stream-webhook-secrets');
      } else {
        const secret = find(r, 'Secret', '-webhook-secrets');
        expect(volume.secret!.secretName).toBe(secret.metadata.name);
        expect(JSON.parse(secret.stringData![key]!)).toEqual({});
      }
    }
    const withSecrets = template([], ['webhookSecrets.secrets.default={old,new}']);
    expect(JSON.parse(find(withSecrets, 'Secret', '-webhook-secrets').stringData!['secrets.json']!)).toEqual({
      default: ['old', 'new'],
    });
  });

  it('probes the endpoints each service serves, on the ports it listens on', () => {
    const r = rendered('production');
    const ingress = find(r, 'Deployment', '-ingress').spec!.template!.spec.containers[0]!;
    expect(ingress.ports).toEqual([{ name: 'http', containerPort: 3000, protocol: 'TCP' }]);
    expect(envOf(ingress).INGRESS_PORT).toBe('3000');
    expect(ingress.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(ingress.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    const processor = find(r, 'StatefulSet', '-processor').spec!.template!.spec.containers[0]!;
    expect(processor.ports).toEqual([{ name: 'metrics', containerPort: 9464, protocol: 'TCP' }]);
    expect(envOf(processor).PROCESSOR_METRICS_PORT).toBe('9464');
    expect(processor.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(processor.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
  });

  it("pins the processor's heap limit: the image's entrypoint with the limit, or the image's own at 0", () => {
    const processorOf = (r: Rendered) =>
      find(r, 'StatefulSet', '-processor').spec!.template!.spec.containers[0]!;
    // The defaults are what nylas-stream itself starts the processor with (lib/service-runtime.ts).
    expect(processorOf(rendered('default')).command).toEqual([
      'node',
      ...serviceNodeFlags('processor'),
      'dist/cli/index.js',
    ]);
    expect(processorOf(rendered('production')).command).toEqual([
      'node',
      ...SERVICE_NODE_FLAGS,
      '--max-old-space-size=384',
      'dist/cli/index.js',
    ]);
    const unpinned = processorOf(template([], ['processor.heapLimitMb=0']));
    expect(unpinned.command).toBeUndefined();
    expect(unpinned.args).toEqual(['processor']);
  });

  it('points Services, the HPA and the PodDisruptionBudgets at the right pods', () => {
    const r = rendered('production');
    const podLabels = (suffix: string, kind: string) =>
      find(r, kind, suffix).spec!.template!.metadata!.labels!;
    const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
      Object.entries(selector).every(([k, v]) => labels[k] === v);
    for (const [suffix, kind] of [
      ['-ingress', 'Deployment'],
      ['-processor', 'StatefulSet'],
    ] as const) {
      const labels = podLabels(suffix, kind);
      const service = find(r, 'Service', suffix);
      expect(selects(service.spec!.selector as Record<string, string>, labels)).toBe(true);
      const pdb = find(r, 'PodDisruptionBudget', suffix);
      expect(
        selects((pdb.spec!.selector as { matchLabels: Record<string, string> }).matchLabels, labels),
      ).toBe(true);
      expect(pdb.spec!.maxUnavailable).toBe(1);
    }
    const hpa = find(r, 'HorizontalPodAutoscaler', '-ingress');
    expect(hpa.spec!.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: `${RELEASE}-nylas-stream-ingress`,
    });
    expect([hpa.spec!.minReplicas, hpa.spec!.maxReplicas]).toEqual([3, 12]);
    // With the HPA on, the Deployment leaves the replica count to it.
    expect(find(r, 'Deployment', '-ingress').spec!.replicas).toBeUndefined();
  });

  it('provisions topics, then schemas, in a pre-install/pre-upgrade hook Job', () => {
    for (const name of ['default', 'production'] as const) {
      const job = find(rendered(name), 'Job', '-provision');
      expect(job.metadata.annotations).toEqual({
        'helm.sh/hook': 'pre-install,pre-upgrade',
        'helm.sh/hook-weight': '0',
        'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
      });
      const pod = job.spec!.template!.spec;
      expect(pod.restartPolicy).toBe('Never');
      // Init containers run in order and must succeed: topics exist before schemas are registered.
      expect(pod.initContainers!.map((c) => c.args)).toEqual([
        name === 'production' ? ['topics', 'create', '--strict'] : ['topics', 'create'],
      ]);
      expect(pod.containers.map((c) => c.args)).toEqual([['schemas', 'register']]);
      // The same shared configuration as the services, so topic names and partitions agree.
      const processor = find(rendered(name), 'StatefulSet', '-processor').spec!.template!.spec.containers[0]!;
      for (const c of containersOf(pod)) {
        for (const [k, v] of Object.entries(envOf(c)))
          expect({ k, v }).toEqual({ k, v: envOf(processor)[k] });
        expect(c.envFrom).toEqual(processor.envFrom);
      }
    }
    // A chart-made Secret of variables is a hook too, created before the Job that reads it.
    const r = template([], ['secretEnv.values.NYLAS_API_KEY=nyk_test']);
    const secret = find(r, 'Secret', '-env');
    expect(secret.metadata.annotations?.['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    expect(Number(secret.metadata.annotations?.['helm.sh/hook-weight'])).toBeLessThan(
      Number(find(r, 'Job', '-provision').metadata.annotations?.['helm.sh/hook-weight']),
    );
    expect(find(r, 'Job', '-provision').spec!.template!.spec.containers[0]!.envFrom).toEqual([
      { secretRef: { name: secret.metadata.name } },
    ]);
  });

  it('the PrometheusRule is deploy/prometheus/rules/*.yml, group for group', () => {
    const rule = find(rendered('production'), 'PrometheusRule');
    expect(rule.spec!.groups).toEqual(ruleGroupsOnDisk());
    expect(rule.metadata.labels?.release).toBe('kube-prometheus-stack');
    // {{ $labels.x }} reach Prometheus as written: the rule files are data, not templates.
    expect(JSON.stringify(rule.spec!.groups)).toContain('{{ $labels.instance }}');
    // The chart reads them through a symlink to the directory: one source of truth, no copy.
    expect(execFileSync('readlink', [join(CHART, 'rules')], { encoding: 'utf8' }).trim()).toBe(
      '../../prometheus/rules',
    );
  });

  it('a packaged chart carries the rule files themselves and renders the same PrometheusRule', () => {
    const out = join(helmHome, 'package');
    helm(['package', CHART, '--destination', out]);
    const [archive] = readdirSync(out);
    const text = helm(['template', RELEASE, join(out, archive!), '--namespace', NAMESPACE, '-f', PRODUCTION]);
    const rule = parseManifests(text).find((o) => o.kind === 'PrometheusRule');
    expect(rule?.spec?.groups).toEqual(ruleGroupsOnDisk());
  });

  it('the ServiceMonitors scrape /metrics of both Services with the job names the alerts expect', () => {
    const r = rendered('production');
    const scrape = parse(readFileSync(join(REPO_ROOT, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8')) as {
      scrape_configs: { job_name: string }[];
    };
    const jobs: string[] = [];
    for (const component of ['ingress', 'processor']) {
      const monitor = find(r, 'ServiceMonitor', `-${component}`);
      const service = find(r, 'Service', `-${component}`);
      const spec = monitor.spec as {
        jobLabel: string;
        selector: { matchLabels: Record<string, string> };
        endpoints: { port: string; path: string }[];
      };
      for (const [k, v] of Object.entries(spec.selector.matchLabels))
        expect(service.metadata.labels?.[k]).toBe(v);
      const ports = (service.spec!.ports as { name: string }[]).map((p) => p.name);
      for (const e of spec.endpoints) {
        expect(ports).toContain(e.port);
        expect(e.path).toBe('/metrics');
      }
      jobs.push(service.metadata.labels![spec.jobLabel]!);
    }
    expect(jobs).toEqual(scrape.scrape_configs.map((s) => s.job_name));
    expect(readFileSync(join(RULES, 'alerts.yml'), 'utf8')).toContain('up{job=~"nylas-stream-.*"}');
  });

  it('documents every value of values.yaml and values-production.yaml with a comment', () => {
    // Keys below these are Kubernetes objects passed through as they are (resources, security
    // contexts, scheduling) or maps of variables and labels: the key itself carries the comment.
    const passThrough = new Set([
      'env',
      'labels',
      'resources',
      'podSecurityContext',
      'containerSecurityContext',
      'retentionPolicy',
      'topologySpreadConstraints',
    ]);
    for (const file of [join(CHART, 'values.yaml'), PRODUCTION]) {
      const undocumented: string[] = [];
      const walk = (node: unknown, path: string[], inherited: boolean) => {
        if (!isMap(node)) return;
        node.items.forEach((pair, i) => {
          if (!isPair(pair) || !isScalar(pair.key)) return;
          const key = String(pair.key.value);
          const comment = pair.key.commentBefore ?? (i === 0 ? node.commentBefore : undefined);
          const hasChildren = isMap(pair.value) && pair.value.items.length > 0;
          // A section (a map of documented keys) needs no comment of its own; a value does.
          if (!comment && !inherited && !(hasChildren && !passThrough.has(key))) {
            undocumented.push([...path, key].join('.'));
          }
          if (!isSeq(pair.value)) walk(pair.value, [...path, key], inherited || passThrough.has(key));
        });
      };
      walk(parseDocument(readFileSync(file, 'utf8')).contents, [], false);
      expect({ file, undocumented }).toEqual({ file, undocumented: [] });
    }
  });

  it('without Go the set-up fails, saying what to install (it never skips)', () => {
    expect(() => findGo(process.env, ['/nonexistent/go'])).toThrow(
      /go is required by the Helm chart tests .* Install Go 1\.26 or newer .* Nothing is skipped without it/,
    );
  });

  it('says in its README that no cluster was available, and what was checked instead', () => {
    const readme = readFileSync(join(CHART, 'README.md'), 'utf8');
    expect(readme).toMatch(/no Kubernetes cluster was available/i);
    expect(readme).toContain('test/unit/deploy/helm-chart.test.ts');
  });
});
