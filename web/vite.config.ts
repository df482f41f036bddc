import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import { fileURLToPath } from 'node:url'

// The hub (Python backend) listens on 127.0.0.1:8080 in development.
const HUB = 'http://127.0.0.1:8080'

export default defineConfig({
  plugins: [vue()],
  // vue-i18n in composition mode only (src/i18n): drop the legacy API and the devtools hooks.
  define: {
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  server: {
    proxy: {
      '/api': { target: HUB, changeOrigin: false },
      '/socket.io': { target: HUB, ws: true, changeOrigin: false },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Two HTML entry points: the staff SPA and the customer chat panel (iframe).
    // public/widget.js and public/demo.html are copied verbatim (not bundled).
    rollupOptions: {
      input: {
        index: fileURLToPath(new URL('./index.html', import.meta.url)),
        widget: fileURLToPath(new URL('./widget.html', import.meta.url)),
      },
    },
  },
})
