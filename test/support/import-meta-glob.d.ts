/** Vite's `import.meta.glob`, for tests that read the project's own source files (`query: '?raw'`). */
interface ImportMeta {
  glob<T = unknown>(pattern: string | string[], options: { query?: string; import?: string; eager: true }): Record<string, T>;
}
