// Copies the socket.io browser client from node_modules into widget/vendor/, where the widget
// loads it from. The copy is committed so that running the bot never needs npm; run
// `npm ci && npm run vendor` only when upgrading socket.io-client in package.json.
"use strict";
const fs = require("fs");
const path = require("path");

// The package's "exports" map hides dist/, so resolve it from the package folder.
const source = path.join(__dirname, "..", "node_modules", "socket.io-client", "dist", "socket.io.min.js");
const target = path.join(__dirname, "..", "widget", "vendor", "socket.io.min.js");

// The source map is not vendored, so drop the comment that would make dev tools ask for it.
const code = fs.readFileSync(source, "utf8").replace(/\n?\/\/# sourceMappingURL=.*\s*$/, "\n");
fs.mkdirSync(path.dirname(target), { recursive: true });
fs.writeFileSync(target, code);
console.log(`vendored ${path.relative(process.cwd(), source)} -> ${path.relative(process.cwd(), target)}`);
