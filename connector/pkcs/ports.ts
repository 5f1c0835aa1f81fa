/**
 * Durable per-job progress (the link journal implements it in SQLite): what a job saved before a
 * crash is there when the journal resumes it. Same shape as link/ports.ts JobCheckpoints.
 */
export interface JobCheckpoints {
  get(jobId: string): Buffer | undefined;
  put(jobId: string, data: Buffer): void;
}
