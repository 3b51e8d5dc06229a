import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findJava, findMaven } from '../../../../deploy/local/java';
import { runningPid } from '../../../../deploy/local/process';
import { MissingToolError } from '../../../../lib/errors';

function missing(fn: () => unknown): MissingToolError {
  try {
    fn();
  } catch (err) {
    if (err instanceof MissingToolError) return err;
    throw err;
  }
  throw new Error('expected MissingToolError');
}

describe('local runtime tool discovery', () => {
  it('says what to install when no java is new enough', () => {
    const err = missing(() => findJava(99, 'a future Kafka', {}, '/nonexistent/bin/java'));
    expect(err.code).toBe('INFRA_MISSING_TOOL');
    expect(err.message).toContain('Java 99+');
    expect(err.message).toContain('Install a JDK 99 or newer');
    expect(err.message).toContain('NYLAS_STREAM_JAVA');
  });

  it('reads the version of a java that prints it on stderr', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fake-java-'));
    const fake = join(dir, 'java');
    writeFileSync(fake, '#!/bin/sh\necho \'openjdk version "21.0.4" 2024-07-16\' >&2\n', { mode: 0o755 });
    expect(findJava(21, 'test', {}, fake)).toEqual({ path: fake, major: 21, version: '21.0.4' });
    expect(() => findJava(22, 'test', {}, fake)).toThrow(MissingToolError);
  });

  it('understands the old 1.8 version scheme as Java 8', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fake-java-'));
    const fake = join(dir, 'java');
    writeFileSync(fake, '#!/bin/sh\necho \'java version "1.8.0_392"\' >&2\n', { mode: 0o755 });
    const err = missing(() => findJava(17, 'Kafka', {}, fake));
    expect(err.message).toContain('1.8.0_392');
  });

  it('says what to install when mvn is missing', () => {
    const err = missing(() => findMaven({ NYLAS_STREAM_MVN: '/nonexistent/mvn' }));
    expect(err.message).toContain('Apache Maven');
    expect(err.message).toContain('apt-get install maven');
  });

  it('ignores a PID file whose process is not ours', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pid-'));
    const pidFile = join(dir, 'x.pid');
    // This jest worker is alive but its command line lacks the marker: it must not be taken as ours.
    writeFileSync(pidFile, String(process.pid));
    expect(
      runningPid({ name: 'x', pidFile, logFile: join(dir, 'x.log'), marker: '-Dnylas.stream.instance=nope' }),
    ).toBeUndefined();
    writeFileSync(pidFile, 'garbage');
    expect(runningPid({ name: 'x', pidFile, logFile: join(dir, 'x.log'), marker: 'node' })).toBeUndefined();
  });
});
