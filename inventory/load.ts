import { readFile } from 'node:fs/promises';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { formatIssues } from './format-issues';
import { InventorySchema, type Inventory } from './schema';

/** Thrown when `ops.yaml` cannot be used; `problems` holds one line per problem with its field path. */
export class InventoryError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file} is not a valid inventory:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'InventoryError';
  }
}

/** Where the inventory is read from when no path is given. @default `$TEGO_OPS_CONFIG`, else `./ops.yaml` */
export function defaultInventoryPath(): string {
  return process.env.TEGO_OPS_CONFIG ?? 'ops.yaml';
}

/**
 * Reads and validates an inventory file.
 * @throws InventoryError listing every problem found, each with its field path.
 */
export async function loadInventory(file = defaultInventoryPath()): Promise<Inventory> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InventoryError(file, [code === 'ENOENT' ? 'file not found' : `cannot be read (${code ?? String(err)})`]);
  }
  return parseInventory(text, file);
}

export function parseInventory(text: string, file = 'ops.yaml'): Inventory {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const where = err.linePos ? `line ${err.linePos[0].line}, column ${err.linePos[0].col}` : 'YAML';
      throw new InventoryError(file, [`${where}: ${err.message.split('\n')[0]}`]);
    }
    throw err;
  }
  const result = InventorySchema.safeParse(document ?? {});
  if (!result.success) throw new InventoryError(file, formatIssues(result.error));
  return result.data;
}

/**
 * Reads a secret from the environment variable the inventory names.
 * @throws Error naming both the variable and the inventory field when it is unset.
 */
export function readSecret(envName: string, field: string): string {
  const value = process.env[envName];
  if (value === undefined || value === '') {
    throw new Error(`environment variable ${envName} (named by ${field}) is not set`);
  }
  return value;
}
