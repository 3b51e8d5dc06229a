/** The tracking family (processors/stages/normalize/tracking.ts). */
import { trackingFields } from '../../../../../processors/stages/normalize/tracking';
import { normalizeFailure, notification } from './notification';

describe('trackingFields', () => {
  it('message.opened: the counter and when it was last opened from message_data, the recents', () => {
    const f = trackingFields(
      notification('message.opened', {
        message_id: 'm-1',
        label: 'campaign',
        timestamp: 1700000000,
        message_data: { count: '2', timestamp: 1700000001 },
        recents: [{ opened_id: 0, ip: '10.0.0.1', timestamp: 1700000001 }, 'junk'],
      }),
    );
    expect(f).toMatchObject({
      action: 'OPENED',
      legacy: false,
      message_id: 'm-1',
      label: 'campaign',
      tracked_at: 1700000000000,
      open_count: 2,
      last_opened_at: 1700000001000,
      open_recents: [{ opened_id: 0, ip: '10.0.0.1', user_agent: null, timestamp: 1700000001000 }],
      link_clicks: null,
    });
  });

  it('message.link_clicked: link counts and click recents, numbers from text', () => {
    const f = trackingFields(
      notification('message.link_clicked', {
        message_id: 'm-1',
        link_data: [{ url: 'https://x', count: '4' }],
        recents: [{ click_id: '7', link_index: '0' }],
      }),
    );
    expect(f.action).toBe('LINK_CLICKED');
    expect(f.link_clicks).toEqual([{ url: 'https://x', count: 4 }]);
    expect(f.click_recents).toEqual([
      { click_id: 7, link_index: 0, ip: null, user_agent: null, timestamp: null },
    ]);
    expect(f.open_count).toBeNull();
  });

  it('thread.replied: the tracked message is the one replied to, else the root', () => {
    const object = {
      message_id: 'reply',
      root_message_id: 'root',
      reply_data: { count: 2 },
      from_self: false,
    };
    const f = trackingFields(notification('thread.replied', { ...object, reply_to_message_id: 'parent' }));
    expect(f).toMatchObject({
      action: 'REPLIED',
      message_id: 'parent',
      reply_message_id: 'reply',
      root_message_id: 'root',
      reply_count: 2,
      from_self: false,
    });
    expect(trackingFields(notification('thread.replied', object)).message_id).toBe('root');
  });

  it('.legacy: the v2 deltas kept, ids and the count taken from the first delta', () => {
    const delta = {
      date: 1695480567,
      type: 'message.opened',
      object_data: { id: 'md-1', metadata: { count: 3 } },
    };
    const f = trackingFields(notification('message.opened.legacy', { deltas: [delta, 'junk'] }));
    expect(f).toMatchObject({
      action: 'OPENED',
      legacy: true,
      message_id: 'md-1',
      open_count: 3,
      reply_count: null,
    });
    expect(f.legacy_deltas).toEqual([
      {
        date: 1695480567000,
        object: null,
        type: 'message.opened',
        object_data_json: '{"id":"md-1","metadata":{"count":3}}',
      },
    ]);
  });

  it('reads a deltas payload as legacy even without the suffix', () => {
    expect(trackingFields(notification('thread.replied', { deltas: [] })).legacy).toBe(true);
  });

  it('fails without an object: there is nothing to say what was tracked', () => {
    expect(normalizeFailure(() => trackingFields(notification('message.opened', null))).code).toBe(
      'NORMALIZE_FAILED',
    );
  });
});
