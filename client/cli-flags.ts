import { Option } from 'commander';
import { z } from 'zod';

/**
 * Command-line flags derived from a workflow's input schema, so every field the UI's JSON accepts has a
 * flag, named the same way, with no second list to keep in step:
 *   databases → --databases a,b      dryRun → --dry-run      approval.required → --approval-required
 *   window.timeZone → --window-time-zone Asia/Shanghai
 * Values are converted by type (numbers, comma lists, booleans) and validated by the same schema afterwards.
 */

interface FlagField {
  /** Path into the input object, e.g. ['approval', 'timeout']. */
  path: string[];
  flag: string;
  kind: 'string' | 'number' | 'boolean' | 'list' | 'numberList';
  description: string;
  /** A boolean that is true unless said otherwise also gets --no-<flag>. */
  defaultTrue?: boolean;
  choices?: string[];
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Strips optional/default/nullable wrappers to the schema that says what a value looks like. */
function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  while (current instanceof z.ZodOptional || current instanceof z.ZodDefault || current instanceof z.ZodNullable) {
    current = current.unwrap() as z.ZodType;
  }
  return current;
}

function fieldsOf(schema: z.ZodType, path: string[] = []): FlagField[] {
  const shape = unwrap(schema);
  if (!(shape instanceof z.ZodObject)) return [];
  return Object.entries(shape.shape as Record<string, z.ZodType>).flatMap(([name, field]): FlagField[] => {
    const inner = unwrap(field);
    const at = [...path, name];
    const flag = `--${at.map(kebab).join('-')}`;
    const description = field.description ?? inner.description ?? '';
    if (inner instanceof z.ZodObject) return fieldsOf(inner, at);
    // State a workflow hands itself across continue-as-new: no flag.
    if (inner instanceof z.ZodUnknown) return [];
    if (inner instanceof z.ZodBoolean) return [{ path: at, flag, kind: 'boolean', description, defaultTrue: field.safeParse(undefined).data === true }];
    if (inner instanceof z.ZodNumber) return [{ path: at, flag, kind: 'number', description }];
    if (inner instanceof z.ZodEnum) return [{ path: at, flag, kind: 'string', description, choices: inner.options.map(String) }];
    if (inner instanceof z.ZodArray) {
      const element = unwrap(inner.element as z.ZodType);
      // Lists of objects (a drill's assertions) have no flag form: they come from --input.
      if (element instanceof z.ZodObject) return [];
      const choices = element instanceof z.ZodEnum ? element.options.map(String) : undefined;
      return [{ path: at, flag, kind: element instanceof z.ZodNumber ? 'numberList' : 'list', description, choices }];
    }
    return [{ path: at, flag, kind: 'string', description }];
  });
}

/** Commander options for every field of `schema`. */
export function flagOptions(schema: z.ZodType): Option[] {
  return fieldsOf(schema).flatMap((field) => {
    const placeholder = field.kind === 'boolean' ? '' : field.kind.endsWith('ist') ? ' <a,b,...>' : ' <value>';
    const hint = field.choices ? ` (${field.kind === 'list' ? 'any of' : 'one of'}: ${field.choices.join(', ')})` : '';
    const option = new Option(`${field.flag}${placeholder}`, `${field.description || field.path.join('.')}${hint}`);
    // Both spellings defined, so neither sets a default that would hide a value from --input.
    return field.defaultTrue ? [option, new Option(`--no-${field.flag.slice(2)}`, `turn ${field.flag} off`)] : [option];
  });
}

/**
 * The input object the flags describe, laid over `base` (from --input file.json): flags win. Values are
 * not validated here; the schema does that and names the field.
 */
export function inputFromFlags(schema: z.ZodType, flags: Record<string, unknown>, base: Record<string, unknown> = {}): Record<string, unknown> {
  const input = structuredClone(base);
  for (const field of fieldsOf(schema)) {
    const key = field.flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (flags[key] === undefined) continue;
    const raw = flags[key] as string | boolean;
    const value =
      field.kind === 'number'
        ? Number(raw)
        : field.kind === 'list'
          ? String(raw).split(',').map((s) => s.trim()).filter(Boolean)
          : field.kind === 'numberList'
            ? String(raw).split(',').map((s) => Number(s.trim()))
            : raw;
    let target = input;
    for (const part of field.path.slice(0, -1)) {
      target[part] = typeof target[part] === 'object' && target[part] !== null ? target[part] : {};
      target = target[part] as Record<string, unknown>;
    }
    target[field.path[field.path.length - 1]] = value;
  }
  return input;
}
