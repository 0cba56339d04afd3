// The shapes of openapi/openapi.yaml the console reads.

export type LicenseStatus = 'ok' | 'stale' | 'missing' | 'expired' | 'revoked';

export interface Allotment {
  name: 'professional' | 'analyzer' | 'analyzer_time';
  units: number;
  overage: number;
  used: number;
  quarantined: number;
  available: number | null;
}

export interface Tokens {
  total: number;
  allocated: number;
  used: number;
  quarantined: number;
  available: number;
}

export interface License {
  status: LicenseStatus;
  licenseNumber: string | null;
  organization: string | null;
  product: string | null;
  validFrom: string | null;
  validTo: string | null;
  issuedAt: string | null;
  lastVerifiedAt: string | null;
  lastSyncAttemptAt: string | null;
  lastSyncError: string | null;
  disabledAt: string | null;
  conversionDate: string | null;
  allotments: Allotment[];
  tokens: Tokens | null;
  parameters: Record<string, number>;
}

export interface User {
  id: string;
  userDirectory: string;
  userId: string;
  name: string;
  groups: string[];
  createdAt: string;
  modifiedAt: string;
}

export interface UserRef {
  id: string | null;
  userDirectory: string | null;
  userId: string | null;
  deleted?: boolean;
}

export type AllocationType = 'professional' | 'analyzer' | 'user';

export interface Allocation {
  id: string;
  type: AllocationType;
  user: UserRef;
  createdAt: string;
  lastUsed: string | null;
  quarantined: boolean;
  quarantineEnd: string | null;
  ruleId: string | null;
}

export type RuleAccessType = 'professional' | 'analyzer' | 'login' | 'analyzer_time';

export interface Rule {
  id: string;
  name: string;
  accessType: RuleAccessType;
  match: { groups: string[]; userDirectories: string[] };
  tokens: number | null;
  createdAt: string;
  modifiedAt: string;
}

export interface Session {
  id: string;
  user: UserRef;
  accessType: string;
  allocationId: string | null;
  startedAt: string;
  lastActivity: string;
  endedAt: string | null;
  endReason: string | null;
  resultCode: string;
}

export interface SessionEvent {
  id: string;
  at: string;
  kind: 'grant' | 'refusal' | 'end' | 'release';
  sessionId: string | null;
  user: UserRef;
  accessType: string | null;
  resultCode: string;
  sessionCount: number;
  detail: string | null;
}

export interface ApiKey {
  id: string;
  name: string;
  role: 'admin' | 'auditor' | 'proxy' | 'scim';
  createdAt: string;
  lastUsedAt: string | null;
}

export interface ApiKeyCreated extends ApiKey {
  key: string;
}

// GET /reports/usage (components/schemas/UsageReport in openapi.yaml).
export interface UsagePoint {
  start: string;
  sessionsStarted: Record<string, number>;
  refusals: Record<string, number>;
  peakConcurrentSessions: number;
  capacityMinutes: number;
  capacityMinutesMonthToDate: number;
}

export interface UsageReport {
  from: string;
  to: string;
  step: 'hour' | 'day';
  capacityPoolMinutes: number | null;
  points: UsagePoint[];
}

export const ACCESS_TYPES = ['professional', 'analyzer', 'user', 'login', 'analyzer_time'] as const;
export const RESULT_CODES = [
  'Ok', 'UnknownUser', 'LicenseNotAvailable', 'NoAvailableAccessType',
  'NoAvailableAccessTypePendingUserSync', 'MaxParallelSessionsExceeded', 'ExcessAssignment',
] as const;

// /webhooks (components/schemas/Webhook*, in openapi.yaml).
export interface WebhookEvent {
  type: string;
  hours?: number;
  days?: number;
  failures?: number;
  allotment?: 'professional' | 'analyzer';
  below?: number;
  count?: number;
  seconds?: number;
}

export interface Webhook {
  id: string;
  url: string;
  description: string;
  events: WebhookEvent[];
  createdAt: string;
  pendingDeliveries: number;
  failedDeliveries: number;
}

export interface WebhookCreated extends Webhook {
  secret: string;
}

export interface WebhookDelivery {
  id: string;
  eventId: string;
  eventType: string;
  eventCreatedAt: string;
  attempt: number;
  attemptedAt: string;
  outcome: 'delivered' | 'retrying' | 'failed';
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  deliverer: string;
  nextAttemptAt: string | null;
  payload: unknown;
}

// GET /allocations/idle-release (components/schemas/IdleReleasePolicy).
export interface ExemptUser {
  userDirectory: string;
  userId: string;
}

export interface IdleReleasePolicy {
  type: 'professional' | 'analyzer';
  enabled: boolean;
  idleDays: number;
  exempt: { groups: string[]; userDirectories: string[]; users: ExemptUser[] };
  modifiedAt: string;
}

export interface IdleCandidate extends Allocation {
  idleSince: string;
}

export interface IdleReleasePreview {
  type: string;
  at: string;
  total: number;
  data: IdleCandidate[];
}
