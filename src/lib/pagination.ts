export interface PageRequest {
  limit: number;
  page: number;
}

export interface Page<T> {
  items: T[];
  pagination: { page: number; limit: number; total: number; totalPages: number };
}

export const offsetOf = ({ limit, page }: PageRequest) => (page - 1) * limit;

export function toPage<T>(items: T[], total: number, { limit, page }: PageRequest): Page<T> {
  return { items, pagination: { page, limit, total, totalPages: Math.ceil(total / limit) } };
}
