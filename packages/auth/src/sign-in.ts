import { TooManyRequestsError, type Logger, type User } from '@forge/core';
import { isEmail, isOwnerName } from './names.js';
import type { OwnerService } from './owners.js';
import type { SignInKey, SignInThrottle } from './sign-in-throttle.js';

/** Where a password came from: the UI's sign-in form or HTTP Basic on the token API. */
export interface SignInClient {
  /** The client's address (the socket's, or the one a trusted proxy forwarded: FORGE_TRUST_PROXY). */
  address: string;
  via: 'form' | 'basic';
}

/**
 * Every password check: throttled per account and per client address (SignInThrottle),
 * hashed with bounded concurrency (PasswordHasher), and logged at warn level with the
 * client's address when it fails, in a line fail2ban can match (docs/security.md).
 */
export class PasswordSignIn {
  constructor(
    private readonly owners: OwnerService,
    private readonly throttle: SignInThrottle,
    private readonly logger: Logger,
  ) {}

  /**
   * The user whose name or email address and password these are, or null. Throws
   * TooManyRequestsError (429, with Retry-After) once the account or the address has
   * used up its failures for the window: then not even the right password is checked.
   */
  async verify(login: string, password: string, client: SignInClient): Promise<User | null> {
    const address = this.throttle.addressKey(client.address);
    const typed = loginAlias(login);
    // Known to be exhausted: refused before even the account lookup (a flood costs nothing).
    const blocked = this.throttle.remembered([address.key, typed]) ?? (await this.count(login, typed, address));
    if (blocked) {
      this.logger.warn('sign-in throttled', { address: client.address, via: client.via, login: shown(login), retryAfter: blocked.retryAfter });
      throw new TooManyRequestsError(`too many failed sign-ins; try again in ${inWords(blocked.retryAfter)}`, blocked.retryAfter);
    }
    const user = await this.owners.verifyLogin(login, password);
    if (!user) {
      this.logger.warn('authentication failed', { address: client.address, via: client.via, login: shown(login) });
      return null;
    }
    await this.throttle.succeeded(await this.accountKey(login, typed), address);
    return user;
  }

  private async count(login: string, typed: string, address: SignInKey): Promise<{ retryAfter: number } | null> {
    const account = await this.accountKey(login, typed);
    return this.throttle.attempt(account ? [account, address] : [address]);
  }

  /**
   * The account a sign-in aims at: a user by id (so the name and the email address share
   * one count), or the name as given when no user has it (a guess at an account that does
   * not exist counts the same, so 429s do not tell which accounts exist). A string that
   * cannot name an account counts against the address only.
   */
  private async accountKey(login: string, typed: string): Promise<SignInKey | null> {
    const user = await this.owners.findLoginUser(login);
    if (user) return this.throttle.accountKey(`id:${user.id}`, typed);
    const lower = String(login ?? '').toLowerCase();
    return isOwnerName(lower) || isEmail(lower) ? this.throttle.accountKey(`name:${lower}`, typed) : null;
  }
}

/** The memo's name for a login as typed (case-insensitive, bounded). */
function loginAlias(login: string): string {
  return `login:${String(login ?? '').toLowerCase().slice(0, 255)}`;
}

/** What a log line shows of a login that may be anything an attacker typed. */
function shown(login: string): string {
  return String(login ?? '').slice(0, 100);
}

function inWords(seconds: number): string {
  if (seconds < 90) return `${seconds} seconds`;
  return `${Math.ceil(seconds / 60)} minutes`;
}
