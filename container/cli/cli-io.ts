/** Where the CLI writes. stdout carries data only (so `$(outpost scep challenge)` works); messages go to stderr. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: CliIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};
