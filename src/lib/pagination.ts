export interface PageRequest {
  limit: number;
  page: number;
}

export interface PageInfo {
  page: number;
  limit: number;
  total: number;
  /** At least this many pages when the total is not exact. */
  totalPages: number;
  /** False when a search stopped counting: there are `total` items, and more. */
  totalExact: boolean;
}

export interface Page<T> {
  items: T[];
  pagination: PageInfo;
}

export const offsetOf = ({ limit, page }: PageRequest) => (page - 1) * limit;

export function toPage<T>(items: T[], total: number, { limit, page }: PageRequest, totalExact = true): Page<T> {
  return { items, pagination: { page, limit, total, totalPages: Math.ceil(total / limit), totalExact } };
}
