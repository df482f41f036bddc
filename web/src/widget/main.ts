import { createApp } from 'vue'
import WidgetApp from './WidgetApp.vue'
import { i18n } from '../i18n'
import './widget.css'

createApp(WidgetApp).use(i18n).mount('#widget')
