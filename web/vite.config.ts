import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import { fileURLToPath } from 'node:url'

// The hub (Python backend) listens on 127.0.0.1:8080 in development.
const HUB = 'http://127.0.0.1:8080'

export default defineConfig({
  plugins: [vue()],
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
