// Interop with a real third-party Dubbo consumer: apache-dubbo-js (unmodified, from npm)
// calls a provider built on our protocol package over a real socket, and the frames it sends
// are checked with peek and with full decode.
import t from 'tap';
import dubboJs from 'apache-dubbo-js';
import { decodeRequestBody, peekRequest, type Frame } from '@dubbo-mesh/protocol';
import { ProviderException, USER_CLASS, USER_SERVICE, closeDirectlyDubbo, makeUser, startTestProvider, userValue } from '@dubbo-mesh/test-support';

const { DirectlyDubbo, java } = dubboJs as unknown as {
  DirectlyDubbo: {
    from(options: object): { proxyService(options: object): Record<string, (...args: unknown[]) => Promise<{ res: unknown; err: Error | null }>> };
  };
  java: { long(value: number): unknown; String(value: string): unknown; int(value: number): unknown };
};

const ECHO_SERVICE = 'org.dubbo.mesh.test.EchoService';

t.test('apache-dubbo-js gets typed results from a provider built on the protocol package', async (t) => {
  const frames: Frame[] = [];
  const created: unknown[] = [];
  const provider = await startTestProvider({
    onRequest: (frame) => frames.push(frame),
    services: {
      [USER_SERVICE]: {
        getUser: ([id]) => userValue(makeUser(id as number)),
        existUser: ([email]) => String(email).endsWith('@example.com'),
        createUser: ([user]) => {
          created.push(user);
          return true;
        },
        listUser: ([pageNo]) => ({ $class: 'java.util.List', $: [1, 2, 3].map((n) => userValue(makeUser((pageNo as number) * 10 + n))) }),
      },
      [ECHO_SERVICE]: {
        echoString: ([text]) => text,
        doubleLong: ([n]) => ({ $class: 'long', $: (n as number) * 2 }),
        findNothing: () => null,
        fail: ([message]) => {
          throw new ProviderException('org.example.NoSuchUserException', String(message));
        },
      },
    },
  });
  const dubbo = DirectlyDubbo.from({ dubboAddress: provider.address, dubboVersion: '2.0.2', dubboInvokeTimeout: 5 });
  t.teardown(async () => {
    closeDirectlyDubbo(dubbo);
    await provider.close();
  });
  const users = dubbo.proxyService({
    dubboInterface: USER_SERVICE,
    version: '1.0.0',
    group: 'g1',
    timeout: 3000,
    methods: {
      getUser: (id: number) => [java.long(id)],
      existUser: (email: string) => [java.String(email)],
      createUser: (user: unknown) => [user],
      listUser: (pageNo: number) => [java.int(pageNo)],
    },
  });
  const echo = dubbo.proxyService({
    dubboInterface: ECHO_SERVICE,
    version: '2.0.0',
    timeout: 3000,
    methods: {
      echoString: (text: string) => [java.String(text)],
      doubleLong: (n: number) => [java.long(n)],
      findNothing: () => [],
      fail: (message: string) => [java.String(message)],
    },
  });

  const user = await users.getUser!(42);
  t.equal(user.err, null);
  const got = user.res as Record<string, unknown>;
  t.equal(got.id, 42, 'long field');
  t.equal(got.name, 'Doug Lea 42', 'string field');
  t.equal(got.address, '北京市 中关村 中关村大街1号 鼎好大厦 1605', 'non-ASCII string field');
  t.type(got.birthday, Date, 'date field');
  t.same(got.permissions, makeUser(42).permissions, 'list field');

  t.same(await users.existUser!('a@example.com'), { res: true, err: null }, 'boolean true');
  t.same(await users.existUser!('a@elsewhere.org'), { res: false, err: null }, 'boolean false');
  t.same(await users.createUser!(userValue(makeUser(7))), { res: true, err: null }, 'an object argument');
  t.equal((created[0] as { name: string }).name, 'Doug Lea 7', 'the provider decoded the User argument');
  const list = await users.listUser!(3);
  t.equal(list.err, null);
  t.same(
    (list.res as Array<{ id: number }>).map((u) => u.id),
    [31, 32, 33],
    'a list of objects',
  );

  t.same(await echo.echoString!('héllo 🚀'), { res: 'héllo 🚀', err: null }, 'string, outside the BMP too');
  t.same(await echo.doubleLong!(2 ** 40), { res: 2 ** 41, err: null }, 'long');
  t.same(await echo.findNothing!(), { res: null, err: null }, 'null');
  const failed = await echo.fail!('no user 9');
  t.equal(failed.res, null);
  t.type(failed.err, Error, 'a business exception arrives as an error');
  t.match(String(failed.err?.message), /no user 9/);

  const missing = dubbo.proxyService({ dubboInterface: 'org.example.Missing', version: '1.0.0', methods: { nope: () => [] } });
  const notFound = await missing.nope!();
  t.match(String(notFound.err?.message), /service org\.example\.Missing not found/, 'status 60 with its message reaches the client');

  t.test('frames captured from apache-dubbo-js decode with peek and full decode alike', async (t) => {
    t.equal(frames.length, 10, 'every one of the 10 calls reached the provider');
    for (const frame of frames) {
      t.equal(frame.bytes[2], 0xc2, 'request, two-way, Hessian2');
      const peek = peekRequest(frame.body);
      const full = decodeRequestBody(frame.body);
      t.equal(peek.path, full.path);
      t.equal(peek.method, full.method);
      t.equal(peek.version, full.version);
      t.equal(peek.parameterDescriptor, full.parameterDescriptor);
      t.same({ ...peek.attachments }, full.attachments);
      for (let i = 0; i < peek.parameterCount; i++) t.same(peek.decodeArgument(i), full.arguments[i]);
    }
    const getUser = peekRequest(frames.find((f) => peekRequest(f.body).method === 'getUser')!.body);
    t.equal(getUser.parameterDescriptor, 'J');
    t.equal(getUser.decodeArgument(0), 42);
    t.equal(getUser.attachments.timeout, 3000, 'timeout is a Hessian int');
    t.equal(getUser.attachments.group, 'g1');
    t.equal(getUser.attachments.interface, USER_SERVICE);
    t.equal(getUser.version, '1.0.0');
    const createUser = peekRequest(frames.find((f) => peekRequest(f.body).method === 'createUser')!.body);
    t.equal(createUser.parameterDescriptor, `L${USER_CLASS.replaceAll('.', '/')};`);
    t.equal((createUser.decodeArgument(0) as { email: string }).email, 'dong.li7@example.com');
    const ids = frames.map((f) => f.header.requestId);
    t.equal(new Set(ids).size, ids.length, 'every request has its own id');
  });
});
