// Which build of the service a load run measured: from flags, else from the target's own release marker
// (`headroom_build_info{version,commit}` on its /metrics), so an artifact names the release its figures belong to.

/** The service's release, and where it was learned. */
export interface Release {
  version: string;
  commit: string;
  source: 'flags' | 'metrics';
}

/**
 * The labels of the first `headroom_build_info` series in Prometheus text, or undefined.
 *
 * @example
 * buildInfo('headroom_build_info{service="shop",version="1.2.0",commit="abc"} 1'); // { version: '1.2.0', commit: 'abc' }
 */
export function buildInfo(text: string): { version: string; commit: string } | undefined {
  const line = /^headroom_build_info\{([^}]*)\}/m.exec(text)?.[1];
  if (line === undefined) return undefined;
  const labels = new Map<string, string>();
  for (const m of line.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
    labels.set(
      m[1]!,
      m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)),
    );
  }
  const version = labels.get('version');
  const commit = labels.get('commit');
  return version === undefined || commit === undefined ? undefined : { version, commit };
}

/**
 * The release under test: `--release-version`/`--release-commit` when given, else read once from `<target>/metrics`
 * (with `token` as a bearer, for a protected endpoint). A target that cannot say gives a reason, not a failure: the
 * run goes on without a release.
 *
 * @example
 * const release = await findRelease('http://127.0.0.1:3000', {});
 * if ('reason' in release) console.log(release.reason); else console.log(release.version);
 */
export async function findRelease(
  target: string,
  options: { version?: string | undefined; commit?: string | undefined; token?: string | undefined },
): Promise<Release | { reason: string }> {
  if (options.version !== undefined || options.commit !== undefined) {
    return { version: options.version ?? 'unknown', commit: options.commit ?? 'unknown', source: 'flags' };
  }
  const url = new URL('/metrics', target);
  try {
    const res = await fetch(url, {
      headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
      signal: AbortSignal.timeout(5_000),
    });
    if (!res.ok) {
      await res.body?.cancel();
      return { reason: `${url} answered ${res.status}` };
    }
    const info = buildInfo(await res.text());
    return info ? { ...info, source: 'metrics' } : { reason: `${url} has no headroom_build_info` };
  } catch (error) {
    return { reason: `${url} could not be read: ${(error as Error).message}` };
  }
}
