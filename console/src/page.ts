// What a page gets from the shell (main.ts).
import type { Role } from './api';
import type { License } from './types';

export interface PageContext {
  role: Role;
  canWrite: boolean;                 // admin: may change things; auditor: read-only
  query: URLSearchParams;            // the page's filters, from its URL
  setQuery(params: Record<string, string | undefined>): void; // keeps filters in the URL
  navigate(url: string): void;
  onLeave(fn: () => void): void;     // timers and the like, stopped when the page is left
  licenseChanged(lic: License): void; // the header and banner follow a new license state
}

export interface PageModule {
  render(ctx: PageContext): HTMLElement;
}
