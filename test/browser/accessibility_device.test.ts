import { checkAccessibility } from './accessibility_check.js';

// WCAG 2.2 AA (accessibility_check.ts): the device flow's pages.
checkAccessibility('device code');
