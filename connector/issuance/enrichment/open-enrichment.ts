import { DirectoryEnrichment } from './directory-enrichment.js';
import { compileEnrichment, type EnrichmentConfig, type EnrichmentPlan } from './enrichment-plan.js';
import type { IdentityDirectory } from './ports.js';

/** A profile as the config gives it: enrichment keys are inert without `directory`. */
export type ProfileEnrichmentConfig = Omit<EnrichmentConfig, 'directory'> & {
  directory?: string | undefined;
};

export interface OpenedEnrichment<D extends IdentityDirectory> {
  /** undefined when no profile names a directory. */
  enrichment: DirectoryEnrichment | undefined;
  /** The directories opened, once each, for the caller to close. */
  directories: D[];
}

/**
 * Compiles the plans of the profiles bound to a directory and opens each directory they use
 * once (`open` reads its secrets; connections are made on first use).
 */
export async function openProfileEnrichment<D extends IdentityDirectory>(
  profiles: Readonly<Record<string, ProfileEnrichmentConfig>>,
  open: (directory: string) => Promise<D>,
): Promise<OpenedEnrichment<D>> {
  const plans = new Map<string, EnrichmentPlan>();
  for (const [name, profile] of Object.entries(profiles)) {
    if (profile.directory !== undefined)
      plans.set(name, compileEnrichment({ ...profile, directory: profile.directory }));
  }
  const opened = new Map<string, D>();
  for (const plan of plans.values()) {
    if (!opened.has(plan.directory)) opened.set(plan.directory, await open(plan.directory));
  }
  return {
    enrichment: plans.size > 0 ? new DirectoryEnrichment(plans, opened) : undefined,
    directories: [...opened.values()],
  };
}
