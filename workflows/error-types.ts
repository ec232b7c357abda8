/**
 * Stable `type`s of the non-retryable failures tego-ops raises. Scripts and tests match on these,
 * never on message text. Pure module: workflows and activities both import it.
 */
export const ErrorType = {
  /** Workflow input failed validation; nothing was touched. */
  InvalidInput: 'InvalidInput',
  /** The inventory does not describe what the request names (unknown host, service, node). */
  UnknownTarget: 'UnknownTarget',
  /** A secret the inventory names is missing from the worker's environment. */
  MissingSecret: 'MissingSecret',
  /** The database named does not exist on the server. */
  DatabaseNotFound: 'DatabaseNotFound',
  /** A stored backup object does not match its manifest (size or SHA-256). */
  ChecksumMismatch: 'ChecksumMismatch',
  /** A path the config backup should archive does not exist. */
  ConfigPathMissing: 'ConfigPathMissing',
  /** An encryption key is not a 32-byte key. */
  InvalidKey: 'InvalidKey',
  /** One or more parts of a composite run (backupAll) failed; the report says which. */
  PartialFailure: 'PartialFailure',
  /** An activity ran on the wrong host's task queue. */
  WrongHost: 'WrongHost',
  /** A change was rejected, or not approved in time; nothing was changed. */
  ChangeRejected: 'ChangeRejected',
  /** A change was aborted by signal; what it had done was undone. */
  ChangeAborted: 'ChangeAborted',
  /** pg_restore rejected an intact backup. */
  RestoreFailed: 'RestoreFailed',
  /** A point-in-time target outside what the base backups and archived WAL cover. */
  TargetOutsideWal: 'TargetOutsideWal',
  /** A restore drill ran and found the backup wanting; its report says how. */
  DrillFailed: 'DrillFailed',
  /** A precondition of a change does not hold (replica not streaming, too far behind, primary still up); nothing was changed. */
  PreconditionFailed: 'PreconditionFailed',
  /** A replica has not replayed or streamed far enough yet (retryable: the retry policy is the wait). */
  NotCaughtUpYet: 'NotCaughtUpYet',
  /** A replica did not come out of recovery on a new timeline. */
  PromotionFailed: 'PromotionFailed',
  /** A rendered configuration (nginx upstreams) is refused: empty, or rejected by its test command. */
  InvalidConfig: 'InvalidConfig',
  /** A deploy failed its health gate or monitor period and was rolled back; the result says what. */
  DeployRolledBack: 'DeployRolledBack',
  /**
   * nginx still has workers finishing requests from before a reload (retryable: the retry policy is the wait);
   * non-retryable from workflows/gates.ts once the drain deadline has passed.
   */
  NotDrainedYet: 'NotDrainedYet',
  /** An instance failed while it was watched after a deploy. */
  Unhealthy: 'Unhealthy',
  /** A container's image is not on its host, so the container cannot be recreated. */
  ImageMissing: 'ImageMissing',
  /**
   * A health gate has not passed yet (retryable: the retry policy is the wait); non-retryable from
   * workflows/gates.ts once the gate's deadline has passed, whether or not any check finished.
   */
  NotHealthyYet: 'NotHealthyYet',
  /** No notification channel delivered (retryable: the next attempt may). */
  NotificationFailed: 'NotificationFailed',
} as const;

export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];
