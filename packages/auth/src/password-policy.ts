import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import { BadRequestError, multilineTextProblem } from '@forge/core';

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

/**
 * Which new passwords are refused (sign-up, password changes, `forge admin user create`):
 * - shorter than MIN_PASSWORD_LENGTH or longer than MAX_PASSWORD_LENGTH characters;
 * - one of the 49 233 most common passwords of zxcvbn's breach-derived list
 *   (`@zxcvbn-ts/language-common`, compared case-insensitively);
 * - anything zxcvbn guesses in under a thousand tries (score 0): a common password with
 *   capitals, digits or l33t substitutions, repeats, sequences, keyboard walks, the user's
 *   own name or email address.
 * What NIST SP 800-63B asks of a verifier: no composition rules, a check against lists of
 * common and compromised values. The check is synchronous and costs a few milliseconds;
 * zxcvbn reads at most 256 characters (its own bound), and the dictionaries load on first use.
 */
export function validatePassword(password: string, context: { username?: string; email?: string } = {}): string {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH) {
    throw new BadRequestError(`password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (password.length > MAX_PASSWORD_LENGTH) throw new BadRequestError(`password must be at most ${MAX_PASSWORD_LENGTH} characters`);
  const problem = multilineTextProblem(password);
  if (problem) throw new BadRequestError(`password ${problem}`);
  const weakness = passwordWeakness(password, context);
  if (weakness) throw new BadRequestError(`password ${weakness}; choose a longer one (a few unrelated words work well)`);
  return password;
}

/** Why a password is too easy to guess, or null when it is not. */
export function passwordWeakness(password: string, context: { username?: string; email?: string } = {}): string | null {
  if (commonPasswords().has(password.toLowerCase())) return 'is one of the most common passwords';
  const userInputs = [context.username, context.email, context.email?.split('@')[0]].filter((s): s is string => Boolean(s));
  const result = estimator().check(password, userInputs);
  if (result.score > 0) return null;
  if (result.sequence.some((m) => m.pattern === 'dictionary' && m.dictionaryName === 'userInputs')) return 'is too close to your user name or email address';
  return 'is too easy to guess (a common password, a repeat, a sequence or a keyboard pattern)';
}

let common_: Set<string> | null = null;
let estimator_: ZxcvbnFactory | null = null;

function commonPasswords(): Set<string> {
  common_ ??= new Set((common.dictionary['passwords-common'] as Array<string | number>).map((p) => String(p).toLowerCase()));
  return common_;
}

function estimator(): ZxcvbnFactory {
  estimator_ ??= new ZxcvbnFactory({ dictionary: { ...common.dictionary }, graphs: common.adjacencyGraphs });
  return estimator_;
}
