import type { DataSource } from 'typeorm';
import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  type OrgRole,
  type Owner,
  type OwnerDirectory,
  type User,
  type Visibility,
} from '@forge/core';
import { isUniqueViolation, OrgMemberEntity, OwnerEntity, type OwnerRow } from '@forge/db';
import { isEmail, isOwnerName, validateEmail, validateOwnerName } from './names.js';
import { PasswordHasher, validatePassword } from './passwords.js';

export const ORG_ROLES: readonly OrgRole[] = ['read', 'write', 'admin'];

export function toOwner(row: OwnerRow): Owner | User {
  const base = {
    id: row.id,
    name: row.name,
    lowerName: row.lowerName,
    type: row.type,
    visibility: row.visibility,
    createdAt: row.createdAt,
  };
  if (row.type === 'user') return { ...base, type: 'user', email: row.email ?? '', isAdmin: row.isAdmin };
  return base;
}

export interface OrgMember {
  user: User;
  role: OrgRole;
}

/** Users and organisations: one namespace, case-insensitive. */
export class OwnerService implements OwnerDirectory {
  readonly #listeners: Array<() => void> = [];

  constructor(
    private readonly ds: DataSource,
    /** Hashes and checks passwords with bounded concurrency (one shared per server). */
    private readonly passwords: PasswordHasher = new PasswordHasher(),
  ) {}

  /** Called after any change to visibility, admin flags or memberships (memos listen). */
  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  private changed(): void {
    for (const l of this.#listeners) l();
  }

  private get repo() {
    return this.ds.getRepository(OwnerEntity);
  }

  async createUser(input: { username: string; email: string; password: string; isAdmin?: boolean; visibility?: Visibility }): Promise<User> {
    const name = validateOwnerName(input.username);
    const email = validateEmail(input.email);
    const passwordHash = await this.passwords.hash(validatePassword(input.password, { username: name, email }));
    const row = await this.insert({
      name,
      lowerName: name.toLowerCase(),
      type: 'user',
      visibility: input.visibility ?? 'public',
      email,
      passwordHash,
      isAdmin: input.isAdmin ?? false,
      fullName: '',
    });
    return toOwner(row) as User;
  }

  async createOrg(input: { name: string; owner: User; visibility?: Visibility }): Promise<Owner> {
    const name = validateOwnerName(input.name);
    return this.ds.transaction(async (m) => {
      let row: OwnerRow;
      try {
        row = await m.getRepository(OwnerEntity).save({
          name,
          lowerName: name.toLowerCase(),
          type: 'org',
          visibility: input.visibility ?? 'public',
          email: null,
          passwordHash: null,
          isAdmin: false,
          fullName: '',
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError(`name "${name}" is already taken`);
        throw err;
      }
      await m.getRepository(OrgMemberEntity).insert({ orgId: row.id, userId: input.owner.id, role: 'admin' });
      return toOwner(row);
    });
  }

  private async insert(row: Omit<OwnerRow, 'id' | 'createdAt'>): Promise<OwnerRow> {
    try {
      return await this.repo.save(row);
    } catch (err) {
      if (isUniqueViolation(err)) {
        const which = String((err as Error).message).includes('email') ? `email "${row.email}"` : `name "${row.name}"`;
        throw new ConflictError(`${which} is already taken`);
      }
      throw err;
    }
  }

  async findByName(name: string): Promise<Owner | null> {
    // Every stored name passed validateOwnerName: anything else (a NUL byte, which
    // PostgreSQL cannot even compare, a control character, 10 000 characters) names no one.
    if (!isOwnerName(name)) return null;
    const row = await this.repo.findOneBy({ lowerName: name.toLowerCase() });
    return row ? toOwner(row) : null;
  }

  async findById(id: number): Promise<Owner | null> {
    const row = await this.repo.findOneBy({ id });
    return row ? toOwner(row) : null;
  }

  async findUser(name: string): Promise<User | null> {
    const owner = await this.findByName(name);
    return owner?.type === 'user' ? (owner as User) : null;
  }

  async requireUser(name: string): Promise<User> {
    const user = await this.findUser(name);
    if (!user) throw new NotFoundError(`user "${name}" does not exist`);
    return user;
  }

  async requireOrg(name: string): Promise<Owner> {
    const owner = await this.findByName(name);
    if (!owner || owner.type !== 'org') throw new NotFoundError(`organization "${name}" does not exist`);
    return owner;
  }

  /** Checks a user's password; null when the user or password is wrong (no hint which). */
  async verifyLogin(nameOrEmail: string, password: string): Promise<User | null> {
    const row = await this.findLoginRow(nameOrEmail);
    if (!row) {
      // Spend the same time as a real check so response times don't reveal which users exist.
      await this.passwords.verify(password, DUMMY_HASH);
      return null;
    }
    return (await this.passwords.verify(password, row.passwordHash)) ? (toOwner(row) as User) : null;
  }

  /** The user a sign-in names (by user name or email address), without checking a password. */
  async findLoginUser(nameOrEmail: string): Promise<User | null> {
    const row = await this.findLoginRow(nameOrEmail);
    return row ? (toOwner(row) as User) : null;
  }

  /**
   * The user a sign-in names, by user name or email address (case-insensitive). A
   * string that cannot be either (too long, control characters, a NUL) finds no one
   * without a query.
   */
  private async findLoginRow(nameOrEmail: string): Promise<OwnerRow | null> {
    const key = String(nameOrEmail ?? '').toLowerCase();
    if (key.includes('@')) {
      if (!isEmail(key)) return null;
      return this.repo.createQueryBuilder('o').where('lower(o.email) = :key', { key }).andWhere(`o.type = 'user'`).getOne();
    }
    if (!isOwnerName(key)) return null;
    return this.repo.findOneBy({ lowerName: key, type: 'user' });
  }

  async setPassword(userId: number, password: string): Promise<void> {
    const row = await this.repo.findOneBy({ id: userId, type: 'user' });
    if (!row) throw new NotFoundError('user does not exist');
    const checked = validatePassword(password, { username: row.name, email: row.email ?? undefined });
    await this.repo.update({ id: userId, type: 'user' }, { passwordHash: await this.passwords.hash(checked) });
  }

  async setVisibility(ownerId: number, visibility: Visibility): Promise<void> {
    if (visibility !== 'public' && visibility !== 'private') throw new BadRequestError('visibility must be public or private');
    await this.repo.update({ id: ownerId }, { visibility });
    this.changed();
  }

  async setAdmin(userId: number, isAdmin: boolean): Promise<void> {
    await this.repo.update({ id: userId, type: 'user' }, { isAdmin });
    this.changed();
  }

  async listUsers(): Promise<User[]> {
    const rows = await this.repo.find({ where: { type: 'user' }, order: { id: 'ASC' } });
    return rows.map((r) => toOwner(r) as User);
  }

  async countUsers(): Promise<number> {
    return this.repo.countBy({ type: 'user' });
  }

  // --- organisation membership ---

  async setMember(org: Owner, user: User, role: OrgRole): Promise<void> {
    if (org.type !== 'org') throw new BadRequestError(`"${org.name}" is not an organization`);
    if (!ORG_ROLES.includes(role)) throw new BadRequestError(`role must be one of ${ORG_ROLES.join(', ')}`);
    await this.ds.getRepository(OrgMemberEntity).upsert({ orgId: org.id, userId: user.id, role }, ['orgId', 'userId']);
    this.changed();
  }

  async removeMember(org: Owner, user: User): Promise<void> {
    await this.ds.transaction(async (m) => {
      const members = m.getRepository(OrgMemberEntity);
      const admins = await members.countBy({ orgId: org.id, role: 'admin' });
      const current = await members.findOneBy({ orgId: org.id, userId: user.id });
      if (!current) throw new NotFoundError(`"${user.name}" is not a member of "${org.name}"`);
      if (current.role === 'admin' && admins <= 1) throw new BadRequestError('an organization needs at least one admin');
      await members.delete({ orgId: org.id, userId: user.id });
    });
    this.changed();
  }

  async roleIn(orgId: number, userId: number): Promise<OrgRole | null> {
    const row = await this.ds.getRepository(OrgMemberEntity).findOneBy({ orgId, userId });
    return row?.role ?? null;
  }

  async listMembers(org: Owner): Promise<OrgMember[]> {
    const rows: Array<OwnerRow & { role: OrgRole }> = await this.repo
      .createQueryBuilder('o')
      .innerJoin('org_member', 'm', 'm.user_id = o.id')
      .where('m.org_id = :org', { org: org.id })
      .select('o.*')
      .addSelect('m.role', 'role')
      .orderBy('o.lower_name')
      .getRawMany()
      .then((raw) => raw.map(fromRaw));
    return rows.map((r) => ({ user: toOwner(r) as User, role: r.role }));
  }

  async listOrgsOf(user: User): Promise<Array<{ org: Owner; role: OrgRole }>> {
    const rows = await this.repo
      .createQueryBuilder('o')
      .innerJoin('org_member', 'm', 'm.org_id = o.id')
      .where('m.user_id = :user', { user: user.id })
      .select('o.*')
      .addSelect('m.role', 'role')
      .orderBy('o.lower_name')
      .getRawMany()
      .then((raw) => raw.map(fromRaw));
    return rows.map((r) => ({ org: toOwner(r), role: r.role }));
  }
}

function fromRaw(r: Record<string, unknown>): OwnerRow & { role: OrgRole } {
  return {
    id: r.id as number,
    name: r.name as string,
    lowerName: r.lower_name as string,
    type: r.type as OwnerRow['type'],
    visibility: r.visibility as Visibility,
    email: (r.email as string | null) ?? null,
    passwordHash: null,
    isAdmin: r.is_admin as boolean,
    fullName: r.full_name as string,
    createdAt: new Date(r.created_at as string),
    role: r.role as OrgRole,
  };
}

// A valid hash of a random password, for constant-time login failures.
const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
