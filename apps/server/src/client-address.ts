import type { IncomingMessage } from 'node:http';
import proxyAddr from 'proxy-addr';

/** Which peers are trusted to forward a client's address (`X-Forwarded-For`). */
export type TrustProxy = (address: string, hop: number) => boolean;

/**
 * Reads `FORGE_TRUST_PROXY` the way express's `trust proxy` reads its value, except that
 * "trust everyone" is not offered (it would let any client pick the address its
 * failures are counted and logged under):
 * - unset or empty: no proxy; the client is the socket's peer;
 * - a number N: the N nearest hops are proxies (`1` behind one nginx);
 * - a comma-separated list of addresses, CIDR subnets and the names `loopback`,
 *   `linklocal`, `uniquelocal`: the peers that are proxies.
 */
export function parseTrustProxy(value: string | undefined): TrustProxy | null {
  const text = (value ?? '').trim();
  if (text === '' || text === '0') return null;
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    return (_address, hop) => hop < hops;
  }
  if (['true', 'yes', 'on', '*'].includes(text.toLowerCase())) {
    throw new Error('FORGE_TRUST_PROXY must name the proxies: a number of hops (1 behind one reverse proxy) or their addresses and subnets, not "trust everyone"');
  }
  try {
    return proxyAddr.compile(text.split(',').map((s) => s.trim()).filter(Boolean));
  } catch (err) {
    throw new Error(`FORGE_TRUST_PROXY: ${(err as Error).message}`);
  }
}

/**
 * The client's address for logs and sign-in limits: the socket's peer, or with trusted
 * proxies the nearest address in `X-Forwarded-For` that is not one of them.
 */
export function clientAddressResolver(trust: TrustProxy | null): (req: IncomingMessage) => string {
  if (!trust) return (req) => req.socket?.remoteAddress ?? 'unknown';
  return (req) => {
    try {
      return proxyAddr(req, trust);
    } catch {
      return req.socket?.remoteAddress ?? 'unknown';
    }
  };
}
