export { buildApp, type AppOptions } from './app.js';
export { startServer } from './server.js';
export { loadConfig, ConfigError, type ApiConfig } from './config.js';
export { API_ERRORS, ApiError, problemOf, problemType, type ApiErrorCode, type Problem } from './errors.js';
export { sameSecret } from './plugins/admin-auth.js';
