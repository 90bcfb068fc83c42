// @hey-api/openapi-ts: a fetch SDK with one function per operation, made
// from ../openapi.yaml by `make spec-check` into spec/sdk/ (never edited,
// not committed). sdk-program.ts is written against it.
export default {
  input: "openapi.yaml",
  output: {
    path: "spec/sdk",
    // NodeNext resolution (spec/tsconfig.json) needs explicit extensions.
    importFileExtension: ".js",
  },
  plugins: ["@hey-api/client-fetch", "@hey-api/typescript", "@hey-api/sdk"],
};
