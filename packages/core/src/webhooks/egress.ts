// Where a webhook may go: only to public unicast addresses, checked on the address a connection will actually
// use. The lookup that vets an address is the lookup the connection uses, so a DNS answer that changes between
// a check and the connection (DNS rebinding) cannot switch it to an internal address.

import { lookup as dnsLookup } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { webhookErrors } from './errors.ts';

/** Why an address is refused: the range it is in (ipaddr.js's names). */
export type ForbiddenRange =
  | 'loopback'
  | 'private'
  | 'linkLocal'
  | 'carrierGradeNat'
  | 'multicast'
  | 'broadcast'
  | 'unspecified'
  | 'reserved'
  | 'uniqueLocal'
  | 'ipv4Mapped'
  | 'rfc6145'
  | 'rfc6052'
  | '6to4'
  | 'teredo'
  | 'invalid';

/**
 * The range that forbids `address`, or undefined for a public unicast address. Addresses that embed an IPv4
 * address (IPv4-mapped, NAT64, 6to4, Teredo) are refused whatever they embed.
 *
 * @example
 * forbiddenRange('10.0.0.7'); // 'private'
 * forbiddenRange('2606:4700:4700::1111'); // undefined
 */
export function forbiddenRange(address: string): ForbiddenRange | undefined {
  if (!ipaddr.isValid(address)) return 'invalid';
  const range = ipaddr.parse(address).range();
  return range === 'unicast' ? undefined : (range as ForbiddenRange);
}

/** One answer of a resolver, as `dns.lookup(host, { all: true })` gives them. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to its addresses. @default `dns.lookup(host, { all: true })` */
export type Resolver = (host: string) => Promise<ResolvedAddress[]>;

/** Options of the egress checks. */
export interface EgressOptions {
  /** @default the system resolver (`dns.lookup`, all addresses) */
  resolver?: Resolver;
  /**
   * `host` or `host:port` entries allowed whatever they resolve to (local development, tests with a loopback
   * receiver). Empty by default.
   */
  allowedHosts?: readonly string[];
}

const systemResolver: Resolver = (host) =>
  new Promise((resolve, reject) =>
    dnsLookup(host, { all: true, verbatim: true }, (error, addresses) =>
      error
        ? reject(error)
        : resolve(addresses.map((a) => ({ address: a.address, family: a.family as 4 | 6 }))),
    ),
  );

function allowed(options: EgressOptions, host: string, port: number): boolean {
  const list = options.allowedHosts ?? [];
  return list.includes(host) || list.includes(`${host}:${port}`);
}

function refuse(detail: string, reason: string, url?: string) {
  return webhookErrors.create('HR_WEBHOOK_URL_FORBIDDEN', detail, {
    context: { field: 'url', reason, ...(url === undefined ? {} : { url }) },
  });
}

/**
 * The addresses `host` may be reached at: all it resolves to, each public (or the host allowed); throws
 * HR_WEBHOOK_URL_FORBIDDEN naming the range of the first forbidden one. A literal address is not resolved.
 */
export async function vetHost(
  host: string,
  port: number,
  options: EgressOptions = {},
): Promise<ResolvedAddress[]> {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const literal = isIP(bare);
  let addresses: ResolvedAddress[];
  if (literal !== 0) {
    addresses = [{ address: bare, family: literal as 4 | 6 }];
  } else {
    try {
      addresses = await (options.resolver ?? systemResolver)(bare);
    } catch (error) {
      throw refuse(`${bare} does not resolve: ${(error as Error).message}`, 'unresolvable');
    }
    if (addresses.length === 0) throw refuse(`${bare} does not resolve to any address`, 'unresolvable');
  }
  if (allowed(options, bare, port)) return addresses;
  for (const { address } of addresses) {
    const range = forbiddenRange(address);
    if (range !== undefined) {
      throw refuse(
        `${bare} resolves to ${address}, a ${range} address: webhooks go to public addresses only`,
        range,
      );
    }
  }
  return addresses;
}

/**
 * The URL, if a webhook may be sent to it at all: absolute, http or https, no user name or password. Throws
 * HR_WEBHOOK_URL_FORBIDDEN naming the reason. Where it resolves to is `checkWebhookUrl`'s business, and the
 * connection's (`vettedLookup`).
 */
export function webhookUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw refuse('url is not an absolute URL', 'invalid-url', text);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw refuse(`url must be http or https, not ${url.protocol.slice(0, -1)}`, 'scheme', text);
  }
  if (url.username !== '' || url.password !== '') {
    throw refuse('url must not carry a user name or password', 'credentials', text);
  }
  return url;
}

/**
 * Checks a webhook URL at registration: `webhookUrl`, and a host that resolves only to public addresses (or is
 * allowed). Throws HR_WEBHOOK_URL_FORBIDDEN (422) naming the reason.
 *
 * @example
 * await checkWebhookUrl('https://hooks.example.com/casebook', { allowedHosts: [] });
 */
export async function checkWebhookUrl(text: string, options: EgressOptions = {}): Promise<URL> {
  const url = webhookUrl(text);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  await vetHost(url.hostname, port, options);
  return url;
}

/** The `lookup` of `net.connect` (and of undici's `connect` options). */
export type ConnectLookup = LookupFunction;

/**
 * A `lookup` for connections: it resolves once, refuses forbidden addresses (the connection fails with
 * HR_WEBHOOK_URL_FORBIDDEN, before any packet leaves), and hands the vetted address to the connection, which
 * connects to it without looking the name up again. `port` is the destination port (for `allowedHosts`).
 *
 * @example
 * const agent = new Agent({ connect: { lookup: vettedLookup(443, { allowedHosts }) } });
 */
export function vettedLookup(port: number, options: EgressOptions = {}): ConnectLookup {
  return (hostname, lookupOptions, callback) => {
    const all = typeof lookupOptions === 'object' && lookupOptions !== null && lookupOptions.all === true;
    const done = callback as unknown as (
      error: Error | null,
      address?: string | ResolvedAddress[],
      family?: number,
    ) => void;
    vetHost(hostname, port, options).then(
      (addresses) => {
        if (all) done(null, addresses);
        else done(null, addresses[0]!.address, addresses[0]!.family);
      },
      (error: Error) => done(error),
    );
  };
}
