/**
 * The README and docs/ as a reader meets them on GitHub: the README stays short, every relative link
 * and #anchor leads somewhere, and every docs page is reachable from the README. (That docs/api.md
 * names every route of the OpenAPI document is checked inside workerd: test/docs-api.test.ts.)
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
/** 15 KB: the README is the newcomer's page; the long reference lives in docs/. */
const README_MAX_BYTES = 15 * 1024;

const README = join(ROOT, "README.md");
const DOCS = join(ROOT, "docs");
const docsPages = () => readdirSync(DOCS).filter((name) => name.endsWith(".md")).map((name) => join(DOCS, name));
const pages = () => [README, ...docsPages()];

/** The text outside fenced code blocks and inline code, where links and headings are what they look like. */
function prose(markdown: string): string {
  const lines: string[] = [];
  let fence: string | null = null;
  for (const line of markdown.split("\n")) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker && (fence === null || marker.startsWith(fence))) {
      fence = fence === null ? marker : null;
      lines.push("");
    } else lines.push(fence === null ? line.replace(/`+[^`]*`+/g, (code) => (code.includes("](") ? "" : code)) : "");
  }
  return lines.join("\n");
}

/** The anchor GitHub gives a heading: its text lowercased, punctuation dropped, spaces as hyphens. */
export function githubSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1") // a link's text
    .replace(/<[^>]+>/g, "") // inline HTML
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "").replace(/ /g, "-");
}

/** Every anchor a page offers: its headings' slugs (repeats numbered as GitHub does) and explicit ids. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of prose(markdown).split("\n")) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading !== undefined) {
      const slug = githubSlug(heading);
      const n = seen.get(slug) ?? 0;
      seen.set(slug, n + 1);
      anchors.add(n === 0 ? slug : `${slug}-${n}`);
    }
    for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1]!);
  }
  return anchors;
}

/** Relative link targets of a page (images too); web addresses are not followed. */
export function linksOf(markdown: string): string[] {
  const text = prose(markdown);
  const targets = [...text.matchAll(/!?\[(?:[^\]]|\][^(])*?\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
  targets.push(...[...text.matchAll(/<(?:a|img)\s[^>]*?(?:href|src)="([^"]+)"/g)].map((m) => m[1]!));
  return targets.filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/** What is wrong with each relative link of `file`: a missing file, or an anchor its target lacks. */
export function brokenLinks(file: string, markdown: string, read = (path: string) => readFileSync(path, "utf8")): string[] {
  const broken: string[] = [];
  for (const link of linksOf(markdown)) {
    const [path = "", anchor] = link.split("#", 2);
    const target = path === "" ? file : resolve(dirname(file), decodeURIComponent(path));
    const where = `${relative(ROOT, file)}: ${link}`;
    if (path !== "" && !existsSync(target)) {
      broken.push(`${where} (no such file)`);
      continue;
    }
    if (anchor === undefined || anchor === "") continue;
    if (!target.endsWith(".md") || statSync(target).isDirectory()) broken.push(`${where} (an anchor into a file that is not markdown)`);
    else if (!anchorsOf(path === "" ? markdown : read(target)).has(decodeURIComponent(anchor))) broken.push(`${where} (no such heading)`);
  }
  return broken;
}

describe("README.md", () => {
  it(`is at most ${README_MAX_BYTES} bytes`, () => {
    expect(statSync(README).size).toBeLessThanOrEqual(README_MAX_BYTES);
  });

  it("starts with the two commands: npm start and npm test", () => {
    const firstBlock = /```[^\n]*\n([\s\S]*?)```/.exec(readFileSync(README, "utf8"))?.[1] ?? "";
    expect(firstBlock).toMatch(/^npm (ci && npm )?start\b/m);
    expect(firstBlock).toMatch(/^npm test\b/m);
  });

  it("links every page of docs/", () => {
    const links = new Set(linksOf(readFileSync(README, "utf8")).map((link) => resolve(ROOT, link.split("#")[0]!)));
    const unlinked = docsPages().filter((page) => !links.has(page)).map((page) => relative(ROOT, page));
    expect(unlinked).toEqual([]);
  });
});

describe("links in README.md and docs/*.md", () => {
  it("resolve: each file exists, each #anchor is a heading (or id) of its target", () => {
    const broken = pages().flatMap((file) => brokenLinks(file, readFileSync(file, "utf8")));
    expect(broken).toEqual([]);
  });

  it("catch a missing file and a missing heading, and skip code and web addresses", () => {
    const file = join(DOCS, "api.md");
    expect(brokenLinks(file, "[ok](../README.md) [gone](nowhere.md) [ok](#x)\n\n# X\n")).toEqual(["docs/api.md: nowhere.md (no such file)"]);
    expect(brokenLinks(file, "[bad](../README.md#no-such-heading-here)")).toEqual(["docs/api.md: ../README.md#no-such-heading-here (no such heading)"]);
    expect(brokenLinks(file, "```\n[in code](nowhere.md)\n```\n`[in code](nowhere.md)` [web](https://example.com/x)")).toEqual([]);
  });

  it("anchors are the slugs GitHub makes", () => {
    expect(githubSlug("How a job flows")).toBe("how-a-job-flows");
    expect(githubSlug("Deploy to Cloudflare: `npm run deploy`")).toBe("deploy-to-cloudflare-npm-run-deploy");
    expect(githubSlug("Retries, guarantees & redelivery")).toBe("retries-guarantees--redelivery");
    expect([...anchorsOf("# A\n## A\n```\n# not a heading\n```\n<a id=\"x\"></a>")]).toEqual(["a", "a-1", "x"]);
  });
});

