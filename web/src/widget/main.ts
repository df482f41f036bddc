import { createApp } from 'vue'
import WidgetApp from './WidgetApp.vue'
import { i18n, t } from '../i18n'
import { installImeGuard } from '../util/ime'
import { startWidgetLanguage } from './language'
import './widget.css'

startWidgetLanguage()
document.title = t('widget.title')
installImeGuard()
createApp(WidgetApp).use(i18n).mount('#widget')
