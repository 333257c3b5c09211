// The injector's own certificate authority and serving certificate, for a cluster where no
// `--tls-cert/--tls-key` are given (as istiod does for its webhook). node-forge builds the X.509
// structures; the keys (RSA 2048) are made and the signatures computed by Node's own crypto,
// which is native and fast (forge's pure-JavaScript RSA would block the event loop for tenths
// of a second while the webhook serves). RSA rather than ECDSA: forge encodes RSA public keys
// only, and the API server and every TLS client take RSA.
import { X509Certificate, createPrivateKey, generateKeyPair, randomBytes, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';
import type { CertificatePair } from './tls-files.js';

const generateKeyPairAsync = promisify(generateKeyPair);

// forge has it, its type declarations leave it out: the to-be-signed part of a certificate.
const getTBSCertificate = (forge.pki as unknown as { getTBSCertificate(certificate: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate;

/** A year: how long the CA and the serving certificate are valid. */
export const CERTIFICATE_VALIDITY_MS = 365 * 24 * 60 * 60 * 1000;
/** Renew a certificate once it is within this much of its expiry (30 days). */
export const RENEW_BEFORE_MS = 30 * 24 * 60 * 60 * 1000;
/** How far back `notBefore` is set, so an API server whose clock is a little behind ours accepts a fresh certificate. */
export const BACKDATE_MS = 60 * 60 * 1000;
/** The CA's common name, followed by `-` and 8 hex digits of its serial so a person can tell one generation from the next. */
export const CA_COMMON_NAME = 'dubbo-mesh-injector-ca';

/** A certificate with its key and its validity. */
export interface IssuedCertificate extends CertificatePair {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** The DNS names the API server may call a Service by: NAME, NAME.NS, NAME.NS.svc, NAME.NS.svc.cluster.local. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}

// A positive serial of 128 random bits (RFC 5280: positive, at most 20 octets; Go's x509 refuses a negative one).
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  if (bytes[0] === 0) bytes[0] = 1;
  return bytes.toString('hex');
}

async function newKeyPair(): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  return generateKeyPairAsync('rsa', { modulusLength: 2048 });
}

// Fills in the signature of `certificate` with Node's crypto (SHA-256 with RSA, PKCS #1 v1.5), as forge's own sign() would.
function signWith(certificate: forge.pki.Certificate, key: KeyObject): string {
  certificate.signatureOid = forge.pki.oids.sha256WithRSAEncryption!;
  certificate.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption!;
  const tbs = Buffer.from(forge.asn1.toDer(getTBSCertificate(certificate)).getBytes(), 'binary');
  certificate.signature = sign('sha256', tbs, key).toString('binary');
  return forge.pki.certificateToPem(certificate);
}

function validity(now: Date, validityMs: number): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter: new Date(now.getTime() + validityMs) };
}

/**
 * A new self-signed CA (CN {@link CA_COMMON_NAME}-SERIAL unless `commonName` is given, O
 * dubbo-mesh): may sign certificates and nothing else (path length 0), valid `validityMs` from `now`.
 */
export async function createCertificateAuthority(options: { now: Date; validityMs?: number; commonName?: string }): Promise<IssuedCertificate> {
  const { privateKey, publicKey } = await newKeyPair();
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  certificate.serialNumber = serialNumber();
  const { notBefore, notAfter } = validity(options.now, options.validityMs ?? CERTIFICATE_VALIDITY_MS);
  const commonName = options.commonName ?? `${CA_COMMON_NAME}-${certificate.serialNumber.slice(0, 8)}`;
  certificate.validity.notBefore = notBefore;
  certificate.validity.notAfter = notAfter;
  const subject = [
    { name: 'organizationName', value: 'dubbo-mesh' },
    { name: 'commonName', value: commonName },
  ];
  certificate.setSubject(subject);
  certificate.setIssuer(subject);
  certificate.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  const cert = signWith(certificate, privateKey);
  return { cert, key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), notBefore, notAfter };
}

/**
 * A serving certificate for `dnsNames` (the first is also its common name), signed by `ca`: a
 * TLS server certificate only (not a CA), valid `validityMs` from `now` but never past the CA.
 */
export async function issueServingCertificate(
  ca: CertificatePair,
  options: { dnsNames: readonly string[]; now: Date; validityMs?: number },
): Promise<IssuedCertificate> {
  if (options.dnsNames.length === 0) throw new Error('a serving certificate needs at least one DNS name');
  const caCertificate = forge.pki.certificateFromPem(ca.cert);
  const caKey = createPrivateKey(ca.key);
  const { privateKey, publicKey } = await newKeyPair();
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  certificate.serialNumber = serialNumber();
  const wanted = validity(options.now, options.validityMs ?? CERTIFICATE_VALIDITY_MS);
  const notAfter = wanted.notAfter.getTime() > caCertificate.validity.notAfter.getTime() ? caCertificate.validity.notAfter : wanted.notAfter;
  certificate.validity.notBefore = wanted.notBefore;
  certificate.validity.notAfter = notAfter;
  certificate.setSubject([
    { name: 'organizationName', value: 'dubbo-mesh' },
    { name: 'commonName', value: options.dnsNames[0]! },
  ]);
  certificate.setIssuer(caCertificate.subject.attributes);
  // The issuer's key identifier as the CA states it, so chain building matches them exactly.
  const caKeyId = (caCertificate.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | undefined)?.subjectKeyIdentifier;
  certificate.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: options.dnsNames.map((value) => ({ type: 2, value })) },
    { name: 'subjectKeyIdentifier' },
    {
      name: 'authorityKeyIdentifier',
      keyIdentifier: caKeyId === undefined ? caCertificate.generateSubjectKeyIdentifier().getBytes() : forge.util.hexToBytes(caKeyId),
    },
  ]);
  const cert = signWith(certificate, caKey);
  return { cert, key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), notBefore: wanted.notBefore, notAfter };
}

/** Every certificate of a PEM bundle, in order; a block that does not parse is left out. */
export function parseCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const certificates: X509Certificate[] = [];
  for (const block of blocks) {
    try {
      certificates.push(new X509Certificate(block));
    } catch {
      // Not a certificate: the caller judges the bundle by what is left.
    }
  }
  return certificates;
}

/** Whether `certificate` expires within `renewBeforeMs` of `now` (or has expired, or is not valid yet). */
export function needsRenewal(certificate: X509Certificate, now: Date, renewBeforeMs = RENEW_BEFORE_MS): boolean {
  const notAfter = new Date(certificate.validTo).getTime();
  const notBefore = new Date(certificate.validFrom).getTime();
  return now.getTime() + renewBeforeMs >= notAfter || now.getTime() < notBefore;
}

/** The DNS names of a certificate's subjectAltName, in order. */
export function dnsNamesOf(certificate: X509Certificate): string[] {
  return (certificate.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice('DNS:'.length));
}
