// Many Envoys connecting at once to a large mesh: large responses unanswered at once are
// limited over every stream (each costs copies of its bytes in the transport until it is sent),
// the rest wait in line and get the newest resources when a slot is free.
import t from 'tap';
import { LargeResponseSlots } from '@dubbo-mesh/control-plane';
import { TYPE_URLS } from '@dubbo-mesh/envoy-xds';
import { RawAds, namesOf, nextEvent, serviceYaml, startMesh, xdsNode } from './fixtures/raw-ads.js';

const { cluster: CDS } = TYPE_URLS;

t.test('one large-response slot: the second and third streams wait for the first ACK, and so on', async (t) => {
  const slots = new LargeResponseSlots(1);
  // Any cluster response is large here: the limit, not the mesh's size, is under test.
  const mesh = await startMesh(
    t,
    { 'a.yaml': serviceYaml('a', [20001]), 'b.yaml': serviceYaml('b', [20002]) },
    { largeResponses: slots, largeResponseBytes: 1 },
  );
  const streams = ['envoy-1', 'envoy-2', 'envoy-3'].map((id) => ({ id, ads: new RawAds(t, mesh.port, 'sotw') }));
  const [first, second, third] = streams as [(typeof streams)[0], (typeof streams)[0], (typeof streams)[0]];

  const opened = nextEvent(mesh.controlPlane, 'stream-open', first.id);
  first.ads.send({ node: xdsNode(first.id, true), type_url: CDS });
  await opened;
  const firstCds = await first.ads.next();
  t.same(namesOf(firstCds).sort(), ['a.default', 'b.default']);
  t.equal(slots.taken, 1, 'the first stream holds the slot until it answers');

  for (const stream of [second, third]) {
    const open = nextEvent(mesh.controlPlane, 'stream-open', stream.id);
    stream.ads.send({ node: xdsNode(stream.id, true), type_url: CDS });
    await open;
  }
  t.equal(mesh.proxy(second.id).resources![CDS]!.sentNonce, '', 'the second stream waits');
  t.equal(mesh.proxy(third.id).resources![CDS]!.sentNonce, '', 'the third stream waits');

  // A change while they wait: what they get when their turn comes is the newest.
  await mesh.write('c.yaml', serviceYaml('c', [20003]));
  t.equal(first.ads.pending, 0, 'nothing more to the first stream while its response is unanswered');

  first.ads.send({ type_url: CDS, version_info: firstCds.version_info, response_nonce: firstCds.nonce });
  const secondCds = await second.ads.next();
  t.same(namesOf(secondCds).sort(), ['a.default', 'b.default', 'c.default'], 'the waiting stream gets the newest clusters once the slot is free');
  t.equal(mesh.proxy(third.id).resources![CDS]!.sentNonce, '', 'the third still waits: one slot');

  second.ads.send({ type_url: CDS, version_info: secondCds.version_info, response_nonce: secondCds.nonce, error_detail: { code: 3, message: 'refused' } });
  const thirdCds = await third.ads.next();
  t.same(namesOf(thirdCds).sort(), ['a.default', 'b.default', 'c.default'], 'a NACK gives the slot back too');

  // A stream that closes holding the slot gives it back: the first stream, in line since its
  // ACK (the change is a new response for it), gets its turn.
  const closed = nextEvent(mesh.controlPlane, 'stream-closed', third.id);
  third.ads.close();
  await closed;
  const firstChange = await first.ads.next();
  t.same(namesOf(firstChange).sort(), ['a.default', 'b.default', 'c.default'], 'the first stream gets the change once the closed stream gave the slot back');
  t.equal(slots.taken, 1);
});
