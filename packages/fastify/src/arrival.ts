// When a request arrived, stamped by the plugin's first hook and read by the rate-limit hook.

/**
 * Where the `headroom` plugin stamps each request's arrival (epoch ms on its clock), first thing: rate limits
 * charge the request then, however long authentication or anything else held it before the check. A symbol,
 * so no decoration of the app's own can clash with it.
 *
 * @example
 * const at = request[arrivedAt]; // 0 when the plugin is not registered
 */
export const arrivedAt: unique symbol = Symbol('headroom.arrivedAt');
