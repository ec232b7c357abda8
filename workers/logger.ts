import pino from 'pino';
import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';

/**
 * JSON logs in the guide's format (日志格式标准): timestamp, level, service, trace_id, message, metadata.
 * trace_id is the workflow id, so every line of one run can be found with one search.
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info') {
  return pino({
    level,
    base: { service },
    messageKey: 'message',
    timestamp: () => `,"timestamp":"${new Date().toISOString()}"`,
    formatters: { level: (label) => ({ level: label.toUpperCase() }) },
  });
}

export type AppLogger = ReturnType<typeof createLogger>;

const pinoLevel = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

/** Adapts pino to the Temporal SDK's Logger, moving the workflow id into trace_id. */
export class TemporalLogAdapter implements Logger {
  constructor(private readonly logger: AppLogger) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    const { workflowId, ...rest } = meta ?? {};
    // The SDK passes failures as Error objects, which JSON renders as {}: keep what they say.
    const metadata = Object.fromEntries(
      Object.entries(rest).map(([key, value]) => [key, value instanceof Error ? { name: value.name, message: value.message } : value]),
    );
    this.logger[pinoLevel[level]]({ trace_id: workflowId ?? null, metadata }, message);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}
