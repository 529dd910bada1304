import type { Plan } from './schema.ts';

/** A configured plan by name: own properties only (`constructor` is not a plan). */
export function planNamed(plans: Readonly<Record<string, Plan>>, name: string): Plan | undefined {
  return Object.hasOwn(plans, name) ? plans[name] : undefined;
}
