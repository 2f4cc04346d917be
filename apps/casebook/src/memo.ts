// What a hot path derives from a settings section, computed again only after a reload changed the section.

/**
 * `derive(section)` computed again only when `section` changed (a reload makes new objects): what a hot path
 * builds from the settings (policies, option objects) costs one comparison per request.
 *
 * @example
 * const caching = memoBy((cache: Settings['cache']) => ({ ttl: cache.ttl }));
 * caching(settings.get().cache);
 */
export function memoBy<S extends object, R>(derive: (section: S) => R): (section: S) => R {
  let last: S | undefined;
  let value: R;
  return (section) => {
    if (section !== last) {
      value = derive(section);
      last = section;
    }
    return value;
  };
}
