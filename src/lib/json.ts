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
