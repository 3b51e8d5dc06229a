import { createWorld } from '../../../../simulator';

describe('World', () => {
  it('is reproducible from its seed and start time', () => {
    const a = createWorld({ seed: 42, grants: 3, startTime: 1_723_821_985 });
    const b = createWorld({ seed: 42, grants: 3, startTime: 1_723_821_985 });
    const c = createWorld({ seed: 43, grants: 3, startTime: 1_723_821_985 });
    expect(a.grantIds).toEqual(b.grantIds);
    expect(a.applicationId).toBe(b.applicationId);
    expect(a.finalState()).toEqual(b.finalState());
    expect(c.grantIds).not.toEqual(a.grantIds);
  });

  it('upserts, reads and deletes objects; the oracle remembers deletions', () => {
    const w = createWorld({ seed: 1, grants: 1, applicationId: 'app-1' });
    const g = w.grantIds[0] as string;
    expect(w.applicationId).toBe('app-1');
    w.upsertObject(g, 'contacts', { id: 'people/c1', grant_id: g, object: 'contact', given_name: 'A' });
    w.upsertObject(g, 'contacts', { id: 'people/c1', grant_id: g, object: 'contact', given_name: 'B' });
    expect(w.getObject(g, 'contacts', 'people/c1')).toMatchObject({ given_name: 'B' });
    w.deleteObject(g, 'contacts', 'people/c1');
    expect(w.getObject(g, 'contacts', 'people/c1')).toBeUndefined();
    const final = w.finalState().find((s) => s.id === 'people/c1');
    expect(final).toMatchObject({ deleted: true, state: null, revision: 3, kind: 'contacts' });
  });

  it('returns copies: changing a returned object does not change the world', () => {
    const w = createWorld({ seed: 1, grants: 1 });
    const g = w.grantIds[0] as string;
    const m = w.listObjects(g, 'messages')[0] as Record<string, unknown>;
    (m.folders as string[]).push('HACKED');
    expect(w.getObject(g, 'messages', String(m.id))?.folders).not.toContain('HACKED');
  });

  it('keeps threads consistent with their messages', () => {
    const w = createWorld({ seed: 5, grants: 1, initialObjects: { messages: 0 } });
    const g = w.grantIds[0] as string;
    w.putMessage(g, {
      id: 'm1',
      grant_id: g,
      object: 'message',
      thread_id: 't1',
      date: 10,
      folders: ['INBOX'],
    });
    w.putMessage(g, {
      id: 'm2',
      grant_id: g,
      object: 'message',
      thread_id: 't1',
      date: 20,
      folders: ['INBOX'],
    });
    expect(w.getObject(g, 'threads', 't1')).toMatchObject({
      message_ids: ['m1', 'm2'],
      earliest_message_date: 10,
    });
    w.removeMessage(g, 'm1');
    expect(w.getObject(g, 'threads', 't1')).toMatchObject({ message_ids: ['m2'] });
    w.removeMessage(g, 'm2');
    expect(w.getObject(g, 'threads', 't1')).toBeUndefined();
  });

  it('setGrantStatus marks a grant invalid and back (re-auth stamps updated_at)', () => {
    const w = createWorld({ seed: 2, grants: 1, startTime: 2_000_000_000 });
    const g = w.grantIds[0] as string;
    w.setGrantStatus(g, 'invalid');
    expect(w.getGrant(g)?.grant_status).toBe('invalid');
    w.advance(100);
    w.setGrantStatus(g, 'valid');
    expect(w.getGrant(g)).toMatchObject({ grant_status: 'valid', updated_at: 2_000_000_100 });
    expect(w.getGrant(`email:${w.getGrant(g)?.email}`)?.id).toBe(g);
  });

  it('refuses unknown grants and objects without an id', () => {
    const w = createWorld({ seed: 2, grants: 1 });
    expect(() => w.upsertObject('nope', 'messages', { id: 'x' })).toThrow(/unknown grant/);
    expect(() => w.upsertObject(w.grantIds[0] as string, 'messages', {})).toThrow(/id/);
  });
});
