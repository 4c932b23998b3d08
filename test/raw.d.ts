/** A file imported as text (Vite's `?raw`), such as a SQL fixture. */
declare module "*?raw" {
  const text: string;
  export default text;
}
