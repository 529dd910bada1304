/** A configuration problem, always naming the field at fault so an operator can fix it. */
export class ConfigError extends Error {
  readonly field: string;
  constructor(field: string, problem: string) {
    super(field === '' ? problem : `${field}: ${problem}`);
    this.name = 'ConfigError';
    this.field = field;
  }
}
