// A scenario's setup steps (a login, say), run once before the stages: their captures are visible to every
// iteration. Runs split over threads run it once in the main thread and hand the values to each.

import type { Scenario } from '../scenario/scenario.ts';
import type { TemplateContext } from '../scenario/template.ts';
import { seededRandom } from './random.ts';
import { sendStep } from './request.ts';
import { createTransport } from './transport.ts';

/**
 * Runs a scenario's setup steps once and returns the variables they captured (or the first failure), for
 * runs split across threads that must share one login.
 *
 * @example
 * const { values, errors } = await runSetup(scenario);
 */
export async function runSetup(
  scenario: Scenario,
): Promise<{ values: Record<string, unknown>; errors: string[] }> {
  const now = () => performance.now();
  const transport = createTransport(scenario.target, { connections: 4, timeoutMs: scenario.timeoutMs, now });
  const values: Record<string, unknown> = {};
  const context: TemplateContext = {
    values: { vars: scenario.vars, ...values },
    random: seededRandom(scenario.seed),
  };
  try {
    for (const step of scenario.setup) {
      const outcome = await sendStep(transport, step, context, now);
      if (outcome.checkFailed) {
        return {
          values,
          errors: [`${outcome.method} ${outcome.path}: ${outcome.error ?? `status ${outcome.status}`}`],
        };
      }
      Object.assign(values, outcome.captured);
      Object.assign(context.values, outcome.captured);
    }
    return { values, errors: [] };
  } finally {
    await transport.close();
  }
}
