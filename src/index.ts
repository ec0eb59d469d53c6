/**
 * `lifeline`: the layers most programs start with. Each layer also has its own subpath
 * (`lifeline-keepalive/core`, `lifeline-keepalive/transport`, ...), which is what libraries should import.
 */
export * from './core/index.js';
export * from './transport/index.js';
