// The flags as an OpenFeature provider, for teams that evaluate through `@openfeature/server-sdk` (an optional
// peer of core: only this subpath needs it). The SDK's context maps to a flag context: `tenant` (or the
// `targetingKey`) and `tier`. Reasons map to OpenFeature's: a rule → TARGETING_MATCH, an override by hand →
// STATIC, the degrader → DISABLED, the default → DEFAULT.

import {
  ErrorCode,
  type EvaluationContext,
  type JsonValue,
  type Provider,
  type ResolutionDetails,
  StandardResolutionReasons,
} from '@openfeature/server-sdk';
import type { FlagReason, Flags } from './flags.ts';

const reasons: Record<FlagReason, string> = {
  rule: StandardResolutionReasons.TARGETING_MATCH,
  override: StandardResolutionReasons.STATIC,
  degraded: StandardResolutionReasons.DISABLED,
  default: StandardResolutionReasons.DEFAULT,
};

function contextOf(context: EvaluationContext): { tenant?: string; tier?: string } {
  const tenant = context.tenant ?? context.targetingKey;
  return {
    ...(tenant === undefined ? {} : { tenant: String(tenant) }),
    ...(context.tier === undefined ? {} : { tier: String(context.tier) }),
  };
}

/**
 * An OpenFeature server provider over `flags`: boolean flags resolve as booleans, variant flags as strings;
 * numbers and objects are not flags here (TYPE_MISMATCH), an unknown key is FLAG_NOT_FOUND, and the default
 * comes back with the error, as the specification asks.
 *
 * @example
 * await OpenFeature.setProviderAndWait(openFeatureProvider(flags));
 * await OpenFeature.getClient().getBooleanValue('suggestions', true, { tenant: '42', tier: 'pro' });
 */
export function openFeatureProvider(flags: Flags): Provider {
  const resolve = <T extends boolean | string>(
    key: string,
    fallback: T,
    context: EvaluationContext,
    type: 'boolean' | 'string',
  ): ResolutionDetails<T> => {
    if (!flags.snapshot().some((f) => f.flag === key)) {
      return {
        value: fallback,
        reason: StandardResolutionReasons.ERROR,
        errorCode: ErrorCode.FLAG_NOT_FOUND,
        errorMessage: `no flag "${key}"`,
      };
    }
    const { value, reason } = flags.evaluate(key, contextOf(context));
    if (typeof value !== type) {
      return {
        value: fallback,
        reason: StandardResolutionReasons.ERROR,
        errorCode: ErrorCode.TYPE_MISMATCH,
        errorMessage: `flag "${key}" is a ${typeof value}`,
      };
    }
    return {
      value: value as T,
      reason: reasons[reason],
      ...(type === 'string' ? { variant: String(value) } : {}),
    };
  };
  const mismatch = <T>(key: string, fallback: T): ResolutionDetails<T> => ({
    value: fallback,
    reason: StandardResolutionReasons.ERROR,
    errorCode: ErrorCode.TYPE_MISMATCH,
    errorMessage: `flag "${key}" is a boolean or a variant, not a number or an object`,
  });
  return {
    metadata: { name: 'headroom-flags' },
    runsOn: 'server',
    resolveBooleanEvaluation: async (key, fallback, context) => resolve(key, fallback, context, 'boolean'),
    resolveStringEvaluation: async (key, fallback, context) => resolve(key, fallback, context, 'string'),
    resolveNumberEvaluation: async (key, fallback) => mismatch(key, fallback),
    resolveObjectEvaluation: async <T extends JsonValue>(key: string, fallback: T) => mismatch(key, fallback),
  };
}
