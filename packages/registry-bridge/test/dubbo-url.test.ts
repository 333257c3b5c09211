import t from 'tap';
import { decodeNodeName, encodeNodeName, formatDubboUrl, parseDubboUrl } from '@dubbo-mesh/registry-bridge';

// A provider URL as Java Dubbo writes it (PEERS.md, from apache/dubbo-samples' basic sample).
const JAVA_URL =
  'dubbo://172.18.0.9:20880/org.apache.dubbo.samples.basic.api.DemoService?anyhost=true&application=demo-provider&default=true&deprecated=false&dubbo=2.0.2&dynamic=true&generic=false&interface=org.apache.dubbo.samples.basic.api.DemoService&methods=testVoid,sayHello&pid=6&release=1.0-SNAPSHOT&revision=1.0-SNAPSHOT&side=provider&timestamp=1618918522655';
// URLEncoder.encode(JAVA_URL, "UTF-8") as Java prints it.
const JAVA_NODE =
  'dubbo%3A%2F%2F172.18.0.9%3A20880%2Forg.apache.dubbo.samples.basic.api.DemoService%3Fanyhost%3Dtrue%26application%3Ddemo-provider%26default%3Dtrue%26deprecated%3Dfalse%26dubbo%3D2.0.2%26dynamic%3Dtrue%26generic%3Dfalse%26interface%3Dorg.apache.dubbo.samples.basic.api.DemoService%26methods%3DtestVoid%2CsayHello%26pid%3D6%26release%3D1.0-SNAPSHOT%26revision%3D1.0-SNAPSHOT%26side%3Dprovider%26timestamp%3D1618918522655';

t.test("node names: Java's URLEncoder form encoding both ways", async (t) => {
  t.equal(encodeNodeName(JAVA_URL), JAVA_NODE);
  t.equal(decodeNodeName(JAVA_NODE), JAVA_URL);
  t.equal(encodeNodeName("a b~!'()*é"), 'a+b%7E%21%27%28%29*%C3%A9', "space is +; ~!'() escaped; * kept; UTF-8 bytes");
  t.equal(decodeNodeName('a+b%7e%C3%A9'), 'a b~é', '+ is a space, lower-case hex too');
  t.throws(() => decodeNodeName('dubbo%3'), URIError);
  t.throws(() => decodeNodeName('%ZZ'), URIError);
  t.throws(() => decodeNodeName('%C3'), URIError, 'a cut UTF-8 sequence');
});

t.test('parse and format: parameters sorted as Java writes them, empty values kept', async (t) => {
  const url = parseDubboUrl(JAVA_URL)!;
  t.equal(url.protocol, 'dubbo');
  t.equal(url.host, '172.18.0.9');
  t.equal(url.port, 20880);
  t.equal(url.path, 'org.apache.dubbo.samples.basic.api.DemoService');
  t.equal(url.parameters.methods, 'testVoid,sayHello');
  t.equal(formatDubboUrl(url), JAVA_URL, 'the same text back');
  t.equal(
    formatDubboUrl({ ...url, parameters: { side: 'provider', anyhost: 'true', release: '' } }),
    'dubbo://172.18.0.9:20880/org.apache.dubbo.samples.basic.api.DemoService?anyhost=true&release=&side=provider',
  );
  t.same(parseDubboUrl('empty://10.20.153.10/com.foo.BarService?category=providers'), {
    protocol: 'empty',
    host: '10.20.153.10',
    port: 0,
    path: 'com.foo.BarService',
    parameters: { category: 'providers' },
  });
  t.same(parseDubboUrl('dubbo://[::1]:20880/Foo?flag')?.parameters, { flag: 'flag' });
  t.equal(parseDubboUrl('dubbo://[::1]:20880/Foo')?.host, '::1');
  t.equal(parseDubboUrl('not a url'), undefined);
  t.equal(parseDubboUrl('dubbo://h:99999/Foo'), undefined);
});
