/**
 * Finds the first key repeated within one object of a JSON text (which JSON.parse would silently
 * resolve to the last value). Expects text that JSON.parse already accepted. Walks the text once,
 * with a stack of key sets, no recursion.
 */
export function findDuplicateKey(text: string): string | null {
  const objects: (Set<string> | null)[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "{") objects.push(new Set());
    else if (ch === "[") objects.push(null);
    else if (ch === "}" || ch === "]") objects.pop();
    else if (ch === '"') {
      const start = i;
      for (i += 1; text[i] !== '"'; i += 1) if (text[i] === "\\") i += 1;
      let j = i + 1;
      while (j < text.length && /\s/.test(text[j]!)) j += 1;
      const keys = objects[objects.length - 1];
      if (text[j] === ":" && keys) {
        const key = JSON.parse(text.slice(start, i + 1)) as string; // "\u0061" and "a" are the same key
        if (keys.has(key)) return key;
        keys.add(key);
      }
    }
  }
  return null;
}

/**
 * JSON text as the app accepts it everywhere (API bodies and the dashboard's payload field): it must
 * parse, and no object may repeat a key. The error says what is wrong, for a message to the user.
 */
export function parseJsonText(text: string): { value: unknown } | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { error: `is not valid JSON (${err instanceof Error ? err.message : "parse error"})` };
  }
  const duplicate = findDuplicateKey(text);
  if (duplicate !== null) return { error: `repeats the key "${duplicate.slice(0, 50)}" within one object` };
  return { value };
}
