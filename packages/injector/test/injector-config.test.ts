import t from 'tap';
import { InvalidInjectorConfigError } from '../dist/errors.js';
import { DEFAULT_SIDECAR_RESOURCES, defaultInjectorConfig, imageReferenceProblem } from '../dist/injector-config.js';
import { isWholeQuantity, parseQuantity, resourceQuantityProblem } from '../dist/kubernetes-quantity.js';

t.test('the defaults, frozen', async (t) => {
  const config = defaultInjectorConfig();
  t.same(config, {
    controlPlane: 'dubbo-mesh-control-plane.dubbo-mesh.svc:15010',
    image: 'dubbo-mesh:0.1.0',
    nativeSidecar: true,
    javaRecipe: 'consumer',
    failOpen: false,
    proxyLogLevel: 'info',
    resources: { cpuRequest: '50m', memoryRequest: '64Mi', memoryLimit: '256Mi' },
    drainTimeout: '5s',
    preStopDelaySeconds: 5,
    installNamespace: 'dubbo-mesh',
  });
  t.ok(Object.isFrozen(config) && Object.isFrozen(config.resources));
});

t.test('resources merge over the defaults; undefined removes one', async (t) => {
  t.same(defaultInjectorConfig({ resources: { cpuLimit: '1' } }).resources, { ...DEFAULT_SIDECAR_RESOURCES, cpuLimit: '1' });
  t.same(defaultInjectorConfig({ resources: { memoryLimit: undefined } }).resources, { cpuRequest: '50m', memoryRequest: '64Mi' });
});

t.test('each invalid option is refused, naming it', async (t) => {
  const cases: Array<[Parameters<typeof defaultInjectorConfig>[0], string, RegExp]> = [
    [{ controlPlane: 'control-plane' }, 'controlPlane', /"control-plane" is not HOST:PORT/],
    [{ controlPlane: 'cp:70000' }, 'controlPlane', /not HOST:PORT/],
    [{ image: 'Bad Image' }, 'image', /not an image reference/],
    [{ javaRecipe: 'all' as never }, 'javaRecipe', /not one of consumer, migration, off/],
    [{ proxyLogLevel: 'loud' as never }, 'proxyLogLevel', /not one of trace/],
    [{ resources: { cpuRequest: 'x' } }, 'resources.cpuRequest', /not a Kubernetes quantity/],
    [{ resources: { memoryRequest: '1Gi' } }, 'resources.memoryRequest', /is more than resources.memoryLimit/],
    [{ resources: { memoryLimit: '500m' } }, 'resources.memoryLimit', /"500m" is not a whole number of bytes \(m is a thousandth; 500Mi is mebibytes\)/],
    [{ resources: { memoryRequest: '0.5' } }, 'resources.memoryRequest', /"0.5" is not a whole number of bytes$/],
    [{ resources: { memoryRequest: '1e3' } }, 'resources.memoryRequest', /"1e3" is less than the sidecar's minimum of 16Mi/],
    [{ resources: { memoryLimit: '16777215' } }, 'resources.memoryLimit', /less than the sidecar's minimum of 16Mi/],
    [{ drainTimeout: '5' }, 'drainTimeout', /not a duration/],
    [{ preStopDelaySeconds: -1 }, 'preStopDelaySeconds', /not a whole number/],
    [{ installNamespace: 'Dubbo_Mesh' }, 'installNamespace', /not a namespace name/],
  ];
  for (const [partial, option, message] of cases) {
    try {
      defaultInjectorConfig(partial);
      t.fail(`${option}: accepted`);
    } catch (error) {
      t.ok(error instanceof InvalidInjectorConfigError, option);
      t.equal((error as InvalidInjectorConfigError).code, 'DM_ERR_INVALID_INJECTOR_CONFIG');
      t.equal((error as InvalidInjectorConfigError).option, option);
      t.match((error as Error).message, message);
    }
  }
  t.ok(defaultInjectorConfig({ controlPlane: '[fd00::1]:15010' }), 'an IPv6 control plane');
  t.ok(defaultInjectorConfig({ controlPlane: '10.0.0.1:15010', drainTimeout: '1.5m', preStopDelaySeconds: 0 }));
});

t.test('memory for the sidecar: whole bytes, at least 16Mi, exactly; any CPU amount', async (t) => {
  const memory: Array<[string, boolean]> = [
    ['1E', true],
    ['1Ei', true],
    ['2Ei', true],
    ['1e3', false],
    ['0.5', false],
    ['500m', false],
    ['1Gi', true],
    ['1.5Gi', true],
    ['-1', false],
    ['16Mi', true],
    ['64.1M', true],
    ['128.3M', true],
    ['0.1Gi', false],
    ['1.7e7', true],
    ['16777216000m', true],
  ];
  for (const [text, accepted] of memory) {
    const config = () => defaultInjectorConfig({ resources: { memoryRequest: text, memoryLimit: text } });
    if (accepted) t.same(config().resources.memoryLimit, text, `memory ${text}: accepted`);
    else t.throws(config, InvalidInjectorConfigError, `memory ${text}: refused`);
  }
  for (const text of ['1E', '1Ei', '2Ei', '1e3', '0.5', '500m', '1Gi', '1.5Gi']) {
    t.same(defaultInjectorConfig({ resources: { cpuRequest: text, cpuLimit: text } }).resources.cpuRequest, text, `cpu ${text}: accepted`);
  }
  t.throws(() => defaultInjectorConfig({ resources: { cpuRequest: '-1' } }), /resources.cpuRequest: "-1" is negative/);
});

t.test('whole quantities, computed exactly', async (t) => {
  const cases: Array<[string, boolean | undefined]> = [
    ['0', true],
    ['0.000', true],
    ['1', true],
    ['1.5Gi', true],
    ['1.5Ki', true],
    ['0.001Ki', false],
    ['64.1M', true],
    ['128.3M', true],
    ['1.005k', true],
    ['1.0005k', false],
    ['500m', false],
    ['1000m', true],
    ['1500m', false],
    ['1e3', true],
    ['1.5e1', true],
    ['1.25e1', false],
    ['100e-2', true],
    ['1e-2', false],
    ['1e-999999', false],
    ['3n', false],
    ['2000000000n', true],
    ['x', undefined],
  ];
  for (const [text, whole] of cases) t.equal(isWholeQuantity(text), whole, `${text}: ${String(whole)}`);
});

t.test('image references', async (t) => {
  for (const image of [
    'dubbo-mesh:0.1.0',
    'dubbo-mesh',
    'localhost:5000/dubbo-mesh:dev',
    'ghcr.io/org/team/dubbo-mesh@sha256:' + 'a'.repeat(64),
    'docker.io/library/x_y.z-w:1',
  ]) {
    t.equal(imageReferenceProblem(image), undefined, image);
  }
  for (const image of ['', ' dubbo-mesh', 'Dubbo-Mesh:1', 'dubbo-mesh:', 'a/b:c d', 'dubbo-mesh:$(TAG)'])
    t.ok(imageReferenceProblem(image), JSON.stringify(image));
});

t.test('quantities as the API server reads them', async (t) => {
  const values: Array<[string, number]> = [
    ['50m', 0.05],
    ['1', 1],
    ['0.5', 0.5],
    ['.5', 0.5],
    ['1.', 1],
    ['64Mi', 64 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['100M', 1e8],
    ['2e3', 2000],
    ['1E-3', 0.001],
    ['+3k', 3000],
    ['10u', 1e-5],
  ];
  for (const [text, value] of values) t.ok(Math.abs(parseQuantity(text)! - value) < 1e-9 * Math.max(1, value), `${text} = ${value}`);
  for (const text of ['', 'm', '1.2.3', '64MB', '1 Gi', 'Mi', '1e', '0x10', '1Ki1']) t.equal(parseQuantity(text), undefined, JSON.stringify(text));
  t.equal(resourceQuantityProblem('64Mi'), undefined);
  t.match(resourceQuantityProblem('-1'), /negative/);
});

t.test('E and Ei are the exa and exbi suffixes, not an exponent; an exponent needs its digits', async (t) => {
  const values: Array<[string, number]> = [
    ['1E', 1e18],
    ['1Ei', 2 ** 60],
    ['2Ei', 2 ** 61],
    ['1e3', 1000],
    ['1E+3', 1000],
    ['0.5', 0.5],
    ['500m', 0.5],
    ['1Gi', 2 ** 30],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['-1', -1],
  ];
  for (const [text, value] of values) t.equal(parseQuantity(text), value, `${text} = ${value}`);
  for (const text of ['1Eii', '1e+', '1E-', '1iE']) t.equal(parseQuantity(text), undefined, JSON.stringify(text));
  t.match(resourceQuantityProblem('1e400'), /"1e400" is too large/, 'not a number a comparison can use');
  t.ok(defaultInjectorConfig({ resources: { cpuRequest: '1E', cpuLimit: '1Ei' } }), 'exa is less than exbi');
  t.throws(() => defaultInjectorConfig({ resources: { cpuRequest: '1Ei', cpuLimit: '1E' } }), /resources.cpuRequest: is more than resources.cpuLimit/);
  t.throws(() => defaultInjectorConfig({ resources: { cpuLimit: '1e400' } }), /resources.cpuLimit: "1e400" is too large/);
});
