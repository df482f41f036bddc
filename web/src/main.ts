import { createApp } from 'vue'
import App from './App.vue'
import { router } from './router'
import { setUnauthorizedHandler } from './api/client'
import { forgetSession } from './session'
import { startClock } from './util/clock'
import { i18n } from './i18n'
import './styles/base.css'

setUnauthorizedHandler(() => {
  forgetSession()
  if (router.currentRoute.value.path !== '/login') {
    router.push({ path: '/login', query: { next: router.currentRoute.value.fullPath } })
  }
})
startClock()
createApp(App).use(i18n).use(router).mount('#app')
