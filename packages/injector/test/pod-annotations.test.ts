import t from 'tap';
import { defaultInjectorConfig } from '../dist/injector-config.js';
import { POD_ANNOTATIONS, readPodAnnotations, type AnnotationReading } from '../dist/pod-annotations.js';
import { simplePod } from './fixtures/reviews.js';

const config = defaultInjectorConfig();
const read = (annotations: Record<string, string>, spec?: Record<string, unknown>, overrides = config): AnnotationReading =>
  readPodAnnotations(simplePod({ annotations, spec }), overrides);

function errorsOf(reading: AnnotationReading): string {
  if (reading.valid) throw new Error(`expected errors, got settings ${JSON.stringify(reading.settings)}`);
  return reading.errors.join('\n');
}

function settingsOf(reading: AnnotationReading) {
  if (!reading.valid) throw new Error(`expected settings, got ${reading.errors.join('; ')}`);
  if (reading.clashes !== undefined) throw new Error(`expected settings, got clashes ${reading.clashes.join('; ')}`);
  return reading.settings;
}

function clashesOf(reading: AnnotationReading): string[] {
  if (!reading.valid) throw new Error(`expected clashes, got errors ${reading.errors.join('; ')}`);
  if (reading.clashes === undefined) throw new Error(`expected clashes, got settings ${JSON.stringify(reading.settings)}`);
  return reading.clashes;
}

t.test('no annotations: the configuration as it is', async (t) => {
  t.same(settingsOf(read({})), {
    image: 'dubbo-mesh:0.1.0',
    resources: { cpuRequest: '50m', memoryRequest: '64Mi', memoryLimit: '256Mi' },
    appPort: undefined,
    inboundPort: 20891,
    adminPort: 15001,
    outboundPort: 20881,
    logLevel: 'info',
    nativeSidecar: true,
    javaRecipe: 'consumer',
    javaContainers: undefined,
    service: undefined,
    pluginVolume: undefined,
  });
  const other = defaultInjectorConfig({ nativeSidecar: false, javaRecipe: 'off', proxyLogLevel: 'warn', image: 'r.example/dm:2' });
  t.match(settingsOf(read({}, undefined, other)), { nativeSidecar: false, javaRecipe: 'off', logLevel: 'warn', image: 'r.example/dm:2' });
});

t.test('every annotation, valid, overrides the configuration', async (t) => {
  const settings = settingsOf(
    read(
      {
        [POD_ANNOTATIONS.proxyImage]: 'registry.example.com:5000/mesh/dubbo-mesh:0.2.0',
        [POD_ANNOTATIONS.proxyCpuRequest]: '0.1',
        [POD_ANNOTATIONS.proxyCpuLimit]: '1',
        [POD_ANNOTATIONS.proxyMemoryRequest]: '100M',
        [POD_ANNOTATIONS.proxyMemoryLimit]: '1Gi',
        [POD_ANNOTATIONS.appPort]: '20990',
        [POD_ANNOTATIONS.inboundPort]: '30000',
        [POD_ANNOTATIONS.adminPort]: '30001',
        [POD_ANNOTATIONS.outboundPort]: '30002',
        [POD_ANNOTATIONS.logLevel]: 'debug',
        [POD_ANNOTATIONS.nativeSidecar]: 'false',
        [POD_ANNOTATIONS.javaRecipe]: 'off',
        [POD_ANNOTATIONS.service]: 'user-provider',
        [POD_ANNOTATIONS.pluginVolume]: 'plugins',
      },
      { volumes: [{ name: 'plugins', configMap: { name: 'plugins' } }] },
    ),
  );
  t.same(settings, {
    image: 'registry.example.com:5000/mesh/dubbo-mesh:0.2.0',
    resources: { cpuRequest: '0.1', cpuLimit: '1', memoryRequest: '100M', memoryLimit: '1Gi' },
    appPort: 20990,
    inboundPort: 30000,
    adminPort: 30001,
    outboundPort: 30002,
    logLevel: 'debug',
    nativeSidecar: false,
    javaRecipe: 'off',
    javaContainers: undefined,
    service: 'user-provider',
    pluginVolume: 'plugins',
  });
  const containers = { containers: [{ name: 'app' }, { name: 'batch' }, { name: 'nginx' }] };
  t.same(settingsOf(read({ [POD_ANNOTATIONS.javaContainers]: ' app, batch ,app' }, containers)).javaContainers, ['app', 'batch']);
  t.equal(settingsOf(read({ [POD_ANNOTATIONS.javaRecipe]: 'migration' })).javaRecipe, 'migration');
  t.equal(settingsOf(read({ [POD_ANNOTATIONS.nativeSidecar]: 'true' }, undefined, defaultInjectorConfig({ nativeSidecar: false }))).nativeSidecar, true);
});

t.test('each invalid value is refused with the annotation and what it accepts', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    [POD_ANNOTATIONS.proxyImage, 'Not An Image', /annotation dubbo-mesh.io\/proxy-image: "Not An Image" is not an image reference/],
    [POD_ANNOTATIONS.proxyImage, '', /annotation dubbo-mesh.io\/proxy-image: "" is not an image reference/],
    [
      POD_ANNOTATIONS.proxyCpuRequest,
      '100 m',
      /annotation dubbo-mesh.io\/proxy-cpu-request: "100 m" is not a Kubernetes quantity: it takes CPU like 100m or 0.5$/,
    ],
    [POD_ANNOTATIONS.proxyCpuLimit, '-1', /annotation dubbo-mesh.io\/proxy-cpu-limit: "-1" is negative: it takes CPU like 100m/],
    [POD_ANNOTATIONS.proxyMemoryRequest, '64MB', /annotation dubbo-mesh.io\/proxy-memory-request: "64MB" is not a Kubernetes quantity/],
    [
      POD_ANNOTATIONS.proxyMemoryLimit,
      'lots',
      /annotation dubbo-mesh.io\/proxy-memory-limit: "lots" is not a Kubernetes quantity: it takes memory like 128Mi or 1Gi$/,
    ],
    [POD_ANNOTATIONS.appPort, '0', /annotation dubbo-mesh.io\/app-port: "0" is not a port: it takes a number from 1 to 65535/],
    [POD_ANNOTATIONS.inboundPort, '65536', /annotation dubbo-mesh.io\/inbound-port: "65536" is not a port/],
    [
      POD_ANNOTATIONS.inboundPort,
      '80',
      /^annotation dubbo-mesh.io\/inbound-port: 80 is a privileged port the sidecar \(user 1000, no capabilities\) may not bind: it takes a number from 1024 to 65535$/,
    ],
    [POD_ANNOTATIONS.adminPort, '1023', /^annotation dubbo-mesh.io\/admin-port: 1023 is a privileged port .* from 1024 to 65535$/],
    [POD_ANNOTATIONS.outboundPort, '1', /^annotation dubbo-mesh.io\/outbound-port: 1 is a privileged port .* from 1024 to 65535$/],
    [POD_ANNOTATIONS.adminPort, 'admin', /annotation dubbo-mesh.io\/admin-port: "admin" is not a port/],
    [POD_ANNOTATIONS.outboundPort, '2.5', /annotation dubbo-mesh.io\/outbound-port: "2.5" is not a port/],
    [POD_ANNOTATIONS.logLevel, 'verbose', /annotation dubbo-mesh.io\/log-level: "verbose" is not one of trace, debug, info, warn, error, fatal, silent/],
    [POD_ANNOTATIONS.nativeSidecar, 'yes', /annotation dubbo-mesh.io\/native-sidecar: "yes" is not one of true, false/],
    [POD_ANNOTATIONS.javaRecipe, 'provider', /annotation dubbo-mesh.io\/java-recipe: "provider" is not one of consumer, migration, off/],
    [POD_ANNOTATIONS.javaContainers, 'app,worker', /annotation dubbo-mesh.io\/java-containers: "worker" names no container of the pod \(its containers: app\)/],
    [POD_ANNOTATIONS.javaContainers, ' , ', /annotation dubbo-mesh.io\/java-containers: takes a comma-separated list of container names \(app\)/],
    [POD_ANNOTATIONS.service, 'user provider', /annotation dubbo-mesh.io\/service: "user provider" is not a service name/],
  ];
  for (const [annotation, value, expected] of cases) t.match(errorsOf(read({ [annotation]: value })), expected, `${annotation}: ${JSON.stringify(value)}`);
  t.equal(settingsOf(read({ [POD_ANNOTATIONS.appPort]: '80' })).appPort, 80, 'the application binds its own port: any port');
  t.equal(settingsOf(read({ [POD_ANNOTATIONS.adminPort]: '1024' })).adminPort, 1024, 'the first unprivileged port');
  const all = read({ [POD_ANNOTATIONS.logLevel]: 'loud', [POD_ANNOTATIONS.javaRecipe]: 'maybe' });
  t.equal(all.valid ? 0 : all.errors.length, 2, 'every error, not only the first');
});

t.test('the outbound port can only move with the Java recipe off: the resolve file names 20881', async (t) => {
  t.match(
    errorsOf(read({ [POD_ANNOTATIONS.outboundPort]: '30002' })),
    /annotation dubbo-mesh.io\/outbound-port: is only allowed with dubbo-mesh.io\/java-recipe: off, because the namespace's resolve file sends Java calls to 127.0.0.1:20881/,
  );
  t.equal(settingsOf(read({ [POD_ANNOTATIONS.outboundPort]: '30002' }, undefined, defaultInjectorConfig({ javaRecipe: 'off' }))).outboundPort, 30002);
});

t.test('requests and limits: a request over its limit is refused; a limit under the default request lowers it', async (t) => {
  t.match(
    errorsOf(read({ [POD_ANNOTATIONS.proxyMemoryRequest]: '512Mi' })),
    /annotation dubbo-mesh.io\/proxy-memory-request: 512Mi is more than the memory limit 256Mi \(the injector's default; raise it with dubbo-mesh.io\/proxy-memory-limit\)/,
  );
  t.match(
    errorsOf(read({ [POD_ANNOTATIONS.proxyCpuRequest]: '2', [POD_ANNOTATIONS.proxyCpuLimit]: '1500m' })),
    /annotation dubbo-mesh.io\/proxy-cpu-request: 2 is more than the cpu limit 1500m \(dubbo-mesh.io\/proxy-cpu-limit\)/,
  );
  t.same(settingsOf(read({ [POD_ANNOTATIONS.proxyMemoryLimit]: '32Mi' })).resources, { cpuRequest: '50m', memoryRequest: '32Mi', memoryLimit: '32Mi' });
  t.same(settingsOf(read({ [POD_ANNOTATIONS.proxyMemoryRequest]: '256Mi' })).resources.memoryRequest, '256Mi', 'equal to the limit is fine');
});

t.test('quantities with the exa suffixes, exponents, fractions and a sign, each against a CPU limit of 1E', async (t) => {
  const cases: Array<[string, RegExp | undefined]> = [
    ['1E', undefined],
    ['1Ei', /"?1Ei"? is more than the cpu limit 1E/],
    ['2Ei', /"?2Ei"? is more than the cpu limit 1E/],
    ['1e3', undefined],
    ['0.5', undefined],
    ['500m', undefined],
    ['1Gi', undefined],
    ['1.5Gi', undefined],
    ['-1', /annotation dubbo-mesh.io\/proxy-cpu-request: "-1" is negative/],
  ];
  for (const [value, expected] of cases) {
    const reading = read({ [POD_ANNOTATIONS.proxyCpuRequest]: value, [POD_ANNOTATIONS.proxyCpuLimit]: '1E' });
    if (expected === undefined) t.equal(settingsOf(reading).resources.cpuRequest, value, `${value}: accepted`);
    else t.match(errorsOf(reading), expected, `${value}: refused`);
  }
  t.match(errorsOf(read({ [POD_ANNOTATIONS.proxyCpuLimit]: '1e999' })), /annotation dubbo-mesh.io\/proxy-cpu-limit: "1e999" is too large/);
});

t.test('memory annotations: whole bytes and at least 16Mi, the message says which', async (t) => {
  const cases: Array<[string, RegExp | undefined]> = [
    ['1E', undefined],
    ['1Ei', undefined],
    ['2Ei', undefined],
    ['1e3', /annotation dubbo-mesh.io\/proxy-memory-limit: "1e3" is less than the sidecar's minimum of 16Mi: it takes memory like 128Mi or 1Gi$/],
    ['0.5', /annotation dubbo-mesh.io\/proxy-memory-limit: "0.5" is not a whole number of bytes: it takes memory like 128Mi/],
    ['500m', /annotation dubbo-mesh.io\/proxy-memory-limit: "500m" is not a whole number of bytes \(m is a thousandth; 500Mi is mebibytes\)/],
    ['1Gi', undefined],
    ['1.5Gi', undefined],
    ['64.1M', undefined],
    ['-1', /annotation dubbo-mesh.io\/proxy-memory-limit: "-1" is negative/],
  ];
  for (const [value, expected] of cases) {
    const reading = read({ [POD_ANNOTATIONS.proxyMemoryLimit]: value });
    if (expected === undefined) t.equal(settingsOf(reading).resources.memoryLimit, value, `${value}: accepted`);
    else t.match(errorsOf(reading), expected, `${value}: refused`);
  }
  t.match(errorsOf(read({ [POD_ANNOTATIONS.proxyMemoryRequest]: '16777215' })), /proxy-memory-request: "16777215" is less than the sidecar's minimum of 16Mi/);
  t.equal(settingsOf(read({ [POD_ANNOTATIONS.proxyMemoryRequest]: '16Mi' })).resources.memoryRequest, '16Mi');
  t.equal(settingsOf(read({ [POD_ANNOTATIONS.proxyCpuRequest]: '0.5' })).resources.cpuRequest, '0.5', 'a fraction of a CPU is fine');
});

t.test("the sidecar's ports must differ from each other and from the ports the pod's containers declare", async (t) => {
  t.match(
    errorsOf(read({ [POD_ANNOTATIONS.inboundPort]: '15001' })),
    /annotations dubbo-mesh.io\/inbound-port and dubbo-mesh.io\/admin-port: the sidecar's ports must differ, both are 15001/,
  );
  t.match(errorsOf(read({ [POD_ANNOTATIONS.appPort]: '20891' })), /annotation dubbo-mesh.io\/app-port: 20891 is also the sidecar's inbound port/);
  const declares = { containers: [{ name: 'app', ports: [{ name: 'metrics', containerPort: 15001 }] }] };
  t.match(
    errorsOf(read({ [POD_ANNOTATIONS.adminPort]: '15090' }, { containers: [{ name: 'app', ports: [{ containerPort: 15090 }] }] })),
    /^annotation dubbo-mesh.io\/admin-port: port 15090 is also container app's port: set dubbo-mesh.io\/admin-port to a free port$/,
    'an annotated port the pod uses is refused',
  );
  t.equal(settingsOf(read({ [POD_ANNOTATIONS.adminPort]: '15090' }, declares)).adminPort, 15090, 'moved by the annotation');
  t.equal(
    settingsOf(read({}, { containers: [{ name: 'app', ports: [{ containerPort: 15001, protocol: 'UDP' }] }] })).adminPort,
    15001,
    'a UDP port does not clash',
  );
});

t.test('a default port of the sidecar that the pod uses: no sidecar (not refused), and the annotation that moves it', async (t) => {
  const declaring = (...ports: Array<{ name?: string; containerPort: number }>) => ({ containers: [{ name: 'app', ports }] });
  t.same(clashesOf(read({}, declaring({ name: 'metrics', containerPort: 15001 }))), [
    "container app uses port 15001, the sidecar's default admin port: set dubbo-mesh.io/admin-port to a free port",
  ]);
  t.same(clashesOf(read({}, declaring({ name: 'dubbo', containerPort: 20891 }))), [
    "container app uses port 20891, the sidecar's default inbound port: set dubbo-mesh.io/inbound-port to a free port",
  ]);
  t.same(clashesOf(read({}, declaring({ containerPort: 20881 }))), [
    "container app uses port 20881, the sidecar's outbound port: the Java recipe's resolve file names 20881, so set dubbo-mesh.io/java-recipe: off and dubbo-mesh.io/outbound-port",
  ]);
  t.same(
    clashesOf(read({ [POD_ANNOTATIONS.javaRecipe]: 'off' }, declaring({ containerPort: 20881 }))),
    ["container app uses port 20881, the sidecar's default outbound port: set dubbo-mesh.io/outbound-port to a free port"],
    'with the recipe off, the outbound port alone moves',
  );
  const longest = { containers: [{ name: 'a'.repeat(63), ports: [{ name: 'b'.repeat(15), containerPort: 20881 }] }] };
  t.ok(`no dubbo-mesh sidecar: ${clashesOf(read({}, longest))[0]}`.length <= 256, 'as a warning, short enough for the API server to keep whole');
  const init = { initContainers: [{ name: 'setup', ports: [{ containerPort: 20891 }] }], containers: [{ name: 'app', ports: [{ containerPort: 15001 }] }] };
  t.equal(clashesOf(read({}, init)).length, 2, 'every clash, init containers too');
  t.equal(
    settingsOf(read({ [POD_ANNOTATIONS.javaRecipe]: 'off', [POD_ANNOTATIONS.outboundPort]: '20882' }, declaring({ containerPort: 20881 }))).outboundPort,
    20882,
    'what the clash says to set is enough',
  );
  t.match(
    errorsOf(read({ [POD_ANNOTATIONS.logLevel]: 'loud' }, declaring({ containerPort: 15001 }))),
    /log-level/,
    'an invalid annotation is refused, clash or not',
  );
});

t.test("the application's Dubbo port, annotated, declared or the default 20880, is not one of the sidecar's", async (t) => {
  t.match(
    errorsOf(read({ [POD_ANNOTATIONS.inboundPort]: '20880' })),
    /^annotation dubbo-mesh.io\/inbound-port: 20880 is also the application's Dubbo port \(the default; dubbo-mesh.io\/app-port names another\)$/,
  );
  t.match(errorsOf(read({ [POD_ANNOTATIONS.adminPort]: '20880' })), /^annotation dubbo-mesh.io\/admin-port: 20880 is also the application's Dubbo port/);
  t.match(
    errorsOf(read({ [POD_ANNOTATIONS.outboundPort]: '20880', [POD_ANNOTATIONS.javaRecipe]: 'off' })),
    /^annotation dubbo-mesh.io\/outbound-port: 20880 is also the application's Dubbo port/,
  );
  t.equal(settingsOf(read({ [POD_ANNOTATIONS.inboundPort]: '20880', [POD_ANNOTATIONS.appPort]: '20990' })).inboundPort, 20880, 'the app is elsewhere');
  const named = { containers: [{ name: 'app', ports: [{ name: 'dubbo', containerPort: 20990 }] }] };
  t.match(
    errorsOf(read({ [POD_ANNOTATIONS.inboundPort]: '20990' }, named)),
    /^annotation dubbo-mesh.io\/inbound-port: port 20990 is also container app's port dubbo/,
  );
  t.equal(settingsOf(read({ [POD_ANNOTATIONS.inboundPort]: '20880' }, named)).inboundPort, 20880, 'the app listens on its port named dubbo, not 20880');
  t.match(
    errorsOf(read({ [POD_ANNOTATIONS.appPort]: '30000', [POD_ANNOTATIONS.adminPort]: '30000' })),
    /annotation dubbo-mesh.io\/app-port: 30000 is also the sidecar's admin port/,
  );
});

t.test('an unknown dubbo-mesh.io annotation is a warning (a typo), others are not', async (t) => {
  const reading = read({ 'dubbo-mesh.io/proxy-cpu': '1', 'dubbo-mesh.io/weight': '50', 'example.com/x': 'y' });
  t.ok(reading.valid);
  t.equal(reading.warnings.length, 1);
  t.match(reading.warnings[0], /unknown annotation dubbo-mesh.io\/proxy-cpu is ignored/);
});

t.test("plugin-volume: a volume of the pod, else refused naming the pod's volumes", async (t) => {
  const volumes = {
    volumes: [
      { name: 'kube-api-access-x7k2p', projected: { sources: [] } },
      { name: 'plugins', configMap: { name: 'auth-plugin' } },
    ],
  };
  t.equal(settingsOf(read({ [POD_ANNOTATIONS.pluginVolume]: 'plugins' }, volumes)).pluginVolume, 'plugins');
  t.equal(settingsOf(read({}, volumes)).pluginVolume, undefined, 'no annotation: no plugin volume, even with volumes');
  const cases: Array<[string, Record<string, unknown> | undefined, RegExp]> = [
    ['plugin', volumes, /^annotation dubbo-mesh.io\/plugin-volume: "plugin" names no volume of the pod \(its volumes: kube-api-access-x7k2p, plugins\)$/],
    ['plugins', undefined, /^annotation dubbo-mesh.io\/plugin-volume: "plugins" names no volume of the pod \(the pod has no volumes\)$/],
    [
      '',
      volumes,
      /^annotation dubbo-mesh.io\/plugin-volume: takes the name of a volume of the pod holding plugin modules \(its volumes: kube-api-access-x7k2p, plugins\)$/,
    ],
    [' plugins', volumes, /^annotation dubbo-mesh.io\/plugin-volume: " plugins" names no volume of the pod/],
    ['Plugins', volumes, /^annotation dubbo-mesh.io\/plugin-volume: "Plugins" names no volume of the pod/],
  ];
  for (const [value, spec, expected] of cases) t.match(errorsOf(read({ [POD_ANNOTATIONS.pluginVolume]: value }, spec)), expected, JSON.stringify(value));
  const both = read({ [POD_ANNOTATIONS.pluginVolume]: 'nope', [POD_ANNOTATIONS.nativeSidecar]: 'maybe' }, volumes);
  t.equal(both.valid ? 0 : both.errors.length, 2, 'reported with the other errors');
  for (const native of ['true', 'false']) {
    t.match(
      settingsOf(read({ [POD_ANNOTATIONS.pluginVolume]: 'plugins', [POD_ANNOTATIONS.nativeSidecar]: native }, volumes)),
      { pluginVolume: 'plugins', nativeSidecar: native === 'true' },
      `with native-sidecar ${native}`,
    );
  }
  t.same(read({ [POD_ANNOTATIONS.pluginVolume]: 'plugins' }, volumes).warnings, [], 'a known annotation: no warning');
});
