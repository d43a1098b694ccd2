import { checkAccessibility } from './accessibility_check.js';

// WCAG 2.2 AA (accessibility_check.ts): the account page, signing out.
checkAccessibility('account');
